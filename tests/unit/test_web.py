"""Phone web requests: the curl config televoc uploads, and how it reads curl's answers."""

from roles.snom.web import WebRequest, curl_config, parse_replies


def test_curl_config_has_one_block_per_path_and_auth_only_with_a_password():
    config = curl_config(
        [
            WebRequest("a", "10.0.0.5", ("/x", "/y"), "admin", 'pw"1'),
            WebRequest("b", "10.0.0.6:8080", ("/z",)),
        ]
    )
    blocks = config.split("\nnext\n")
    assert len(blocks) == 3
    assert 'url = "http://10.0.0.5/x"' in blocks[0] and 'user = "admin:pw\\"1"' in blocks[0]
    assert "anyauth" in blocks[1]
    assert 'url = "http://10.0.0.6:8080/z"' in blocks[2] and "user" not in blocks[2]
    assert all('write-out = "%{http_code} ' in b for b in blocks)


def test_a_request_without_an_address_cannot_be_sent():
    import pytest

    with pytest.raises(ValueError, match="b: no address"):
        curl_config([WebRequest("b", None, ("/z",))])


def test_a_phone_is_good_only_when_every_request_got_a_2xx():
    replies = parse_replies(["200 a", "204 a", "200 b", "401 b"], ["a", "b"])
    assert replies.good == ("a",)
    assert replies.bad == {"b": "HTTP 200,401"}


def test_curl_000_is_no_answer():
    assert parse_replies(["000 a"], ["a"]).bad == {"a": "no answer"}


def test_a_phone_curl_said_nothing_about_has_no_answer():
    assert parse_replies(["200 a"], ["a", "b"]).bad == {"b": "no answer"}


def test_a_redirect_or_server_error_is_a_failure():
    replies = parse_replies(["302 a", "500 b"], ["a", "b"])
    assert replies.good == () and replies.bad == {"a": "HTTP 302", "b": "HTTP 500"}


def test_lines_that_are_not_curl_answers_are_skipped():
    assert parse_replies(["curl: (7) Failed", "200 a", "200 b c"], ["a"]).good == ("a",)
