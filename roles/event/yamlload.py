"""Strict YAML: every value arrives exactly as it is written, or it is refused with the reason.

PyYAML implements YAML 1.1, which silently reads some plain (unquoted) words as other values
than the ones typed: `0100` is the octal number 64, `1_000` is 1000, `0x10` is 16, `1:30` is 90
(base 60), `yes`/`no`/`on`/`off` are booleans, `2026-11-26` is a date, `.inf` and `.nan` are
floats; and a key written twice in one mapping silently keeps the last value. Here libyaml
(through PyYAML's C parser) composes the text into nodes, which keep each scalar's source text,
its style (plain or quoted) and its line, and the values are built from those nodes:

- allowed as written: every quoted or block string, every plain scalar that YAML 1.1 reads as a
  string, plain decimal integers without leading zeros, `true`/`false`, plain decimal floats,
  and null (`~`, `null`, nothing);
- refused, with a hint to quote the value: every other plain scalar that YAML 1.1 would turn
  into something else than its text (the cases above), the merge key `<<`, and explicit tags
  other than YAML's standard ones (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!map`,
  `!!seq`);
- refused, naming both lines: a key written twice in one mapping.

Which plain scalars YAML 1.1 reads as what is decided by PyYAML's own resolver table, so this
module refuses exactly what PyYAML would have changed. A refused value is left in the data as
`REFUSED`; the caller reports the problem from `Document.problems` and ignores any later
complaint about that value.
"""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

# libyaml's parser (C) composes nodes far faster than PyYAML's pure-Python one (10,000 phones:
# 0.24 s against 4.4 s here). PyYAML is sometimes built without libyaml: then fall back to the
# pure-Python loader, which gives the same nodes, only slower.
_BaseLoader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader

TAG = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (TAG + t for t in ("str", "int", "float", "bool", "null"))
MAP, SEQ, MERGE, TIMESTAMP = (TAG + t for t in ("map", "seq", "merge", "timestamp"))

# YAML 1.1's implicit types (PyYAML's table), keyed by the first character of a plain scalar.
# A plain scalar starting with any other character is a string.
_IMPLICIT = {first: tuple(resolvers) for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()}

# What arrives as written although YAML makes it a number, a boolean or null.
_PLAIN_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_PLAIN_FLOAT = re.compile(r"[-+]?(?:(?:0|[1-9][0-9]*)\.[0-9]*|\.[0-9]+)(?:[eE][-+][0-9]+)?")
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULLS = {"", "~", "null", "Null", "NULL"}


class _Refused:
    """Stands for a value that was refused (the problem is in `Document.problems`)."""

    def __repr__(self) -> str:
        return "REFUSED"


REFUSED: Any = _Refused()
_BUILDING = object()


@dataclass
class Problem:
    """One refusal: where (`path` into the data, `line` 1-based) and `text`, the rule in words
    and the fix."""

    path: tuple
    line: int
    text: str


class YamlSyntaxError(Exception):
    """The text is not YAML: `line` (1-based, or None) and `problem` say where and why."""

    def __init__(self, line: int | None, column: int | None, problem: str):
        super().__init__(problem)
        self.line, self.column, self.problem = line, column, problem


@dataclass
class Document:
    """The values of one YAML file, with the nodes they were built from (for line numbers)."""

    data: Any
    root: Any
    problems: list[Problem] = field(default_factory=list)
    refused: set = field(default_factory=set)

    def node(self, path: tuple, exact: bool = False):
        """The node at `path`; if there is none, the deepest node on the way there (for a key
        that is missing), or None when `exact`."""
        node = self.root
        for step in path:
            child = _child(node, step)
            if child is None:
                return None if exact else node
            node = child
        return node

    def line(self, path: tuple) -> int | None:
        """The line (1-based) of the value at `path`, or of its nearest enclosing value."""
        node = self.node(path)
        return None if node is None else node.start_mark.line + 1

    def key_line(self, path: tuple) -> int | None:
        """The line of the key that holds `path` (a mapping's value starts on a later line)."""
        if path:
            parent = self.node(path[:-1])
            if isinstance(parent, MappingNode):
                for key_node, _ in reversed(parent.value):
                    if _key_matches(key_node, path[-1]):
                        return key_node.start_mark.line + 1
        return self.line(path)

    def source(self, path: tuple) -> str | None:
        """A scalar's text as written in the file (None for a mapping or a list)."""
        node = self.node(path, exact=True)
        return node.value if isinstance(node, ScalarNode) else None


def _key_matches(key_node, key) -> bool:
    return isinstance(key_node, ScalarNode) and key_node.value == (key if isinstance(key, str) else str(key))


def _child(node, step):
    if isinstance(node, MappingNode):
        for key_node, value_node in reversed(node.value):  # the last one wins, as in the data
            if _key_matches(key_node, step):
                return value_node
    elif isinstance(node, SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
        return node.value[step]
    return None


def composer(base: type) -> type:
    """A loader on `base` that composes nodes only. The parser asks `resolve` for the tag of
    every node written without one; answering None keeps "implicit" apart from an explicit tag,
    and this module resolves plain scalars itself, with PyYAML's table, only where the first
    character calls for it (that, and the path-resolver hooks doing nothing, as the safe
    loaders use no path resolvers, saves a third of the time)."""

    class Composer(base):
        def resolve(self, kind, value, implicit):
            return None

        def descend_resolver(self, current_node, current_index):
            pass

        def ascend_resolver(self):
            pass

    return Composer


_Composer = composer(_BaseLoader)


def compose(text: str, loader_class: type = _Composer):
    """The root node of `text` (None for an empty document); YamlSyntaxError if it is no YAML."""
    loader = loader_class(text)
    try:
        return loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or str(e)
        if e.context and e.problem:
            problem = f"{e.problem} ({e.context}"
            if e.context_mark is not None and e.context_mark.line != (mark.line if mark else None):
                problem += f" on line {e.context_mark.line + 1}"
            problem += ")"
        raise YamlSyntaxError(mark.line + 1 if mark else None, mark.column + 1 if mark else None, problem) from None
    except yaml.YAMLError as e:
        raise YamlSyntaxError(None, None, str(e)) from None
    finally:
        loader.dispose()


def load(text: str, loader_class: type = _Composer) -> Document:
    """Build the values of `text` strictly (see the module's doc); YamlSyntaxError if it is no
    YAML. The garbage collector is paused meanwhile: building many small objects would
    otherwise trigger it again and again, for nothing (this code makes no reference cycles)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        root = compose(text, loader_class)
        builder = _Builder()
        data = None if root is None else builder.build(root, ())
        return Document(data, root, builder.problems, builder.refused)
    finally:
        if enabled:
            gc.enable()


def _quoted(text: str) -> str:
    return f"'{text}'" if '"' in text or "\\" in text else f'"{text}"'


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(TAG) :] if tag.startswith(TAG) else tag


def _yaml11(node_value: str, tag: str):
    """What PyYAML's SafeLoader makes of `node_value` as `tag` (for the messages)."""
    constructor = yaml.constructor.SafeConstructor()
    return constructor.construct_object(ScalarNode(tag, node_value), deep=True)


def _why_number(text: str, tag: str) -> str:
    digits = text.lstrip("+-")
    if ":" in digits:
        return " (base 60, as for times: each ':' multiplies what stands before it by 60)"
    if digits[:2] in ("0x", "0X"):
        return " (hexadecimal)"
    if digits[:2] in ("0b", "0B"):
        return " (binary)"
    if tag == INT and len(digits) > 1 and digits[0] == "0" and digits.strip("0_"):
        return " (octal, because it starts with 0)"
    if "_" in digits:
        return " (YAML 1.1 drops the '_')"
    if len(digits) > 1 and digits[0] == "0" and digits[1] != ".":
        return " (it drops the leading 0)"
    return ""


def refusal(text: str, tag: str) -> str:
    """Why the plain scalar `text`, which YAML 1.1 reads as `tag`, is refused, and the fix."""
    quote = f"write it in quotes, {_quoted(text)}"
    if tag == MERGE:
        return "'<<' is a YAML merge key, which televoc does not take: write the keys out in full"
    if tag in (INT, FLOAT):
        value = _yaml11(text, tag)
        if value != value:
            return f"YAML 1.1 reads {text} as a float that is not a number (NaN): {quote}"
        if value in (float("inf"), float("-inf")):
            return f"YAML 1.1 reads {text} as the number {'minus ' if value < 0 else ''}infinity: {quote}"
        return f"YAML 1.1 reads {text} as the number {value}{_why_number(text, tag)}: {quote}"
    if tag == BOOL:
        value = "true" if _yaml11(text, tag) else "false"
        return f"YAML 1.1 reads {text} as the boolean {value}: {quote} (a yes/no setting takes true or false)"
    if tag == TIMESTAMP:
        return f"YAML 1.1 reads {text} as a date: {quote}"
    return f"YAML 1.1 reads {text} as a special value ({_short_tag(tag)}): {quote}"


def _implicit_tag(text: str) -> str:
    """The tag YAML 1.1 (PyYAML's table) gives the plain scalar `text`."""
    for tag, regexp in _IMPLICIT.get(text[:1], ()):
        if regexp.match(text):
            return tag
    return STR


class _Builder:
    def __init__(self):
        self.problems: list[Problem] = []
        self.refused: set = set()
        self.built: dict = {}  # id(node) -> its value (_BUILDING meanwhile), for aliases
        self.words: dict = {}  # plain keys seen before that are text: every phone has the same

    def refuse(self, node, path: tuple, text: str):
        self.problems.append(Problem(path, node.start_mark.line + 1, text))
        self.refused.add(path)
        return REFUSED

    def scalar(self, node, path: tuple):
        """The value of a scalar node, or REFUSED."""
        text, tag = node.value, node.tag
        if tag is None:
            if node.style:  # quoted or block (plain is '' from libyaml, None from PyYAML)
                return text
            if text and text[0] not in _IMPLICIT:  # the common case: a plain word
                return text
            tag = _implicit_tag(text)
            if tag == STR:
                return text
            if tag == INT and _PLAIN_INT.fullmatch(text):
                return int(text)
            if tag == FLOAT and _PLAIN_FLOAT.fullmatch(text):
                return float(text)
            if tag == BOOL and text in _BOOLS:
                return _BOOLS[text]
            if tag == NULL:
                return None
            return self.refuse(node, path, refusal(text, tag))
        # An explicit tag: YAML's standard scalar tags take what the plain form would.
        if tag == STR:
            return text
        if tag == INT and _PLAIN_INT.fullmatch(text):
            return int(text)
        if tag == FLOAT and (_PLAIN_FLOAT.fullmatch(text) or _PLAIN_INT.fullmatch(text)):
            return float(text)
        if tag == BOOL and text in _BOOLS:
            return _BOOLS[text]
        if tag == NULL and text in _NULLS:
            return None
        if tag in (INT, FLOAT, BOOL, NULL):
            return self.refuse(
                node,
                path,
                f"the tag {_short_tag(tag)} does not fit {text!r}: remove the tag and "
                f"write the value plainly, or {_quoted(text)} for text",
            )
        return self.refuse(node, path, self.tag_refusal(tag))

    @staticmethod
    def tag_refusal(tag: str) -> str:
        return (
            f"the tag {_short_tag(tag)} is not taken here (only plain values, quoted text, "
            "lists and mappings): remove it"
        )

    def build(self, node, path: tuple):
        kind = node.__class__
        if kind is ScalarNode:
            return self.scalar(node, path)
        # A container is built once: an alias (*) to it gets the same value; an alias inside
        # the container it refers to would never end.
        key = id(node)
        value = self.built.get(key)
        if value is not None:
            if value is _BUILDING:
                return self.refuse(node, path, "an alias (*) refers to the value that holds it: write the value out")
            return value
        if node.tag is not None and node.tag != (MAP if kind is MappingNode else SEQ):
            return self.refuse(node, path, self.tag_refusal(node.tag))
        self.built[key] = _BUILDING
        if kind is MappingNode:
            value = self.mapping(node, path)
        else:
            value = [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        self.built[key] = value
        return value

    def mapping(self, node, path: tuple) -> dict:
        result: dict = {}
        scalar, words, implicit = self.scalar, self.words, _IMPLICIT
        for key_node, value_node in node.value:
            if key_node.__class__ is not ScalarNode:
                self.refuse(
                    key_node,
                    path,
                    "a key must be a single word, not a list or a mapping: check the indentation and the ':'",
                )
                continue
            text = key_node.value
            if key_node.tag is None and (key_node.style or text in words):
                key = text  # the common case: a word, or a plain key seen before
            else:
                key = scalar(key_node, path + (text,))
                if key is REFUSED:
                    continue
                if key == text and not key_node.style and key_node.tag is None:
                    words[text] = True
            if key in result:
                self.duplicate(node, key_node, key, path)
            if value_node.__class__ is not ScalarNode:
                result[key] = self.build(value_node, path + (key,))
                continue
            value = value_node.value
            if value_node.tag is not None or not (value_node.style or (value and value[0] not in implicit)):
                value = scalar(value_node, path + (key,))  # all but the common case of `scalar`
            result[key] = value
        return result

    def duplicate(self, node, key_node, key, path: tuple) -> None:
        """`key` (at `key_node`) is in mapping `node` already: name both lines."""
        line = key_node.start_mark.line + 1
        peek = _Builder().scalar  # the keys' values again, without reporting them twice
        first = next(
            (k.start_mark.line + 1 for k, _ in node.value if k.__class__ is ScalarNode and peek(k, ()) == key),
            line,
        )
        where = f"on line {first} and line {line}" if first != line else f"both on line {line}"
        self.problems.append(
            Problem(
                path + (key,),
                line,
                f"the key is written twice in one mapping, {where} (YAML would silently keep "
                "the last one): keep one of them",
            )
        )
