"""The ceiling bench's readings (lab/bench/ceiling.py): what it takes from /proc and from
SIPp's statistics file, against real captures from the lab."""

from lab.bench.ceiling import Sample, cpu_percent, stat_totals, udp_delta

# SAMPLE_COMMAND's output in the lab: Asterisk with 10,000 endpoints, 8733 datagrams in
SAMPLE = """\
15519 (asterisk) S 1 15519 15519 0 -1 4194624 114315 0 0 0 771 56 0 0 20 0 47 0 1353354 1761570816 115065 18446744073709551615 94458430935040 94458433625973 140721230863488 0 0 0 0 4096 21053443 0 0 0 17 1 0 0 0 0 0 94458434409952 94458434598816 94459277344768 140721230872070 140721230872135 140721230872135 140721230872549 0
VmRSS:\t  460352 kB
Threads:\t47
fds: 20
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 8733 2 0 8735 0 0 0 0 0
Max open files            20000                20000                files
"""


def test_a_sample_reads_asterisks_cpu_threads_descriptors_memory_and_udp():
    s = Sample.parse(SAMPLE, at=10.0)
    assert s.cpu_ticks == 771 + 56  # utime + stime
    assert (s.threads, s.fds, s.nofile) == (47, 20, 20000)
    assert round(s.rss_mb) == 450
    assert s.udp["InDatagrams"] == 8733 and s.udp["RcvbufErrors"] == 0


def test_cpu_is_percent_of_one_core_between_two_samples():
    first = Sample.parse(SAMPLE, at=10.0)
    later = SAMPLE.replace(" 771 56 ", " 871 106 ").replace("Udp: 8733 2 0 8735 0", "Udp: 9733 2 0 9735 7")
    last = Sample.parse(later, at=12.0)
    assert cpu_percent(first, last) == 75.0  # 150 ticks of 1/100 s in 2 s
    assert udp_delta(first, last, "InDatagrams") == 1000 and udp_delta(first, last, "RcvbufErrors") == 7


def test_no_statistics_file_means_no_call_counted():
    assert stat_totals("") == (0, 0)
