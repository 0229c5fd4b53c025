"""``reentry validate``: offline checks of a bundle of manifests, for CI pipelines.

A bundle is every YAML document in the files and directories given. Each RecoveryPlan in it is
checked the way the operator would check it (the schema from the models, the dependency graph,
names, field paths), and what it refers to (Services, Deployments, HTTPRoutes, ConfigMaps, ...) is
looked up among the bundle's other objects. Findings point at the line of the offending field,
``file:line: message``, so an editor or a CI annotation can jump there.

A reference the bundle does not contain is a warning, not an error: the object may well be
managed elsewhere. ``strict`` makes those errors too.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from reentry import errors, model, paths
from reentry.engine import consent, problems, sections
from reentry.model import Loc

ERROR = "error"
WARNING = "warning"
YAML_SUFFIXES = (".yaml", ".yml")
STDIN = "-"



@dataclass(frozen=True)
class Finding:
    """One problem, located at a file and line (1-based)."""

    file: str
    line: int
    severity: str
    message: str
    plan: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.plan}: " if self.plan else ""
        at = f"{self.field}: " if self.field else ""
        kind = "warning: " if self.severity == WARNING else ""
        return printable(f"{self.file}:{self.line}: {kind}{where}{at}{self.message}")


def printable(text: str) -> str:
    """``text`` with every character that is not printable escaped (``\\n``, ``\\x1b``...): a name read
    from a file can hold a newline, and must not forge another line of the report or a terminal escape."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@dataclass
class Document:
    """One YAML document with the line of every field in it, by path (``("spec", "services", 0)``)."""

    file: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line(self, loc: Loc) -> int:
        """The line of the deepest field of ``loc`` that exists (the document's start at worst)."""
        for end in range(len(loc), -1, -1):
            found = self.lines.get(loc[:end])
            if found is not None:
                return found
        return 1


@dataclass(frozen=True)
class ObjectKey:
    """What a reference needs to match: kind, name and, when known, namespace."""

    kind: str
    name: str
    namespace: str | None = None


@dataclass
class Report:
    """Every finding of one run, and what was read."""

    files: list[str] = field(default_factory=list)
    plans: int = 0
    findings: list[Finding] = field(default_factory=list)

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    def as_json(self) -> str:
        """The machine-readable form of the report (``--output json``)."""
        return json.dumps({
            "ok": not self.errors(), "files": self.files, "plans": self.plans,
            "errors": len(self.errors()), "warnings": len(self.warnings()),
            "findings": [asdict(f) for f in self.findings],
        }, indent=2)


# ---- reading YAML with line numbers ------------------------------------------------------------


#: How deep a document may nest (a plan with a Job's pod template is about 15 levels deep).
MAX_DEPTH = 100
#: How many values a document may hold once its YAML aliases are expanded: a few aliases can
#: otherwise stand for billions of values (an "alias bomb") and take the process down.
MAX_VALUES = 250_000


class Unreadable(ValueError):
    """A file refused before its documents are built (not UTF-8, nested too deep, an alias bomb),
    with the line where it went wrong."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def check_size(text: str) -> None:
    """Raise :class:`Unreadable` for a document nested too deep or expanding to too many values.

    Reads the event stream, which PyYAML produces without recursion, before anything builds the
    documents (which recurses, and expands aliases): each alias counts as all the values of its anchor.
    """
    depth = values = 0
    sizes: dict[str, int] = {}
    open_anchors: list[tuple[str | None, int]] = []
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        if isinstance(event, yaml.DocumentStartEvent):
            values, sizes = 0, {}
        elif isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            values += 1
            open_anchors.append((event.anchor, values))
            if depth > MAX_DEPTH:
                raise Unreadable(line, f"nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            anchor, start = open_anchors.pop()
            if anchor is not None:
                sizes[anchor] = values - start + 1
        elif isinstance(event, yaml.ScalarEvent):
            values += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            values += sizes.get(event.anchor or "", 1)
        if values > MAX_VALUES:
            raise Unreadable(line, f"more than {MAX_VALUES:,} values once its aliases are expanded "
                               "(an alias bomb?); the API server would refuse it too")


def _index_lines(root: yaml.Node, lines: dict[Loc, int]) -> None:
    """Record the line of every field of the document, by path (without recursion)."""
    stack: list[tuple[yaml.Node, Loc]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    # A mapping entry is reported at its key: that is where a person looks.
                    lines[(*loc, key.value)] = key.start_mark.line + 1
                    stack.append((value, (*loc, key.value)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*loc, i)) for i, item in enumerate(node.value))


def read_documents(name: str, text: str) -> tuple[list[Document], list[Finding]]:
    """The non-empty documents of one YAML stream, or the parse error at its line."""
    docs: list[Document] = []
    try:
        check_size(text)
    except Unreadable as err:
        return docs, [Finding(name, err.line, ERROR, f"YAML: {err}")]
    except yaml.YAMLError:
        pass  # reported below, where the documents before the error are kept
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # refuses a non-printable character at once (found by hypothesis)
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            lines: dict[Loc, int] = {}
            _index_lines(node, lines)
            data = loader.construct_document(node)
            if data is not None:
                docs.append(Document(name, data, lines))
    except yaml.reader.ReaderError as err:  # a character YAML does not allow, by its offset
        line = text.count("\n", 0, err.position) + 1
        return docs, [Finding(name, line, ERROR, f"YAML: unacceptable character #x{err.character:04x}: "
                                                 f"{err.reason}")]
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(err, "problem", None) or str(err)
        return docs, [Finding(name, line, ERROR, f"YAML: {problem}")]
    finally:
        if loader is not None:
            loader.dispose()
    return docs, []


def expand(arguments: Iterable[str]) -> Iterator[str]:
    """Files as given, directories as their YAML files (recursively, sorted); ``-`` is stdin."""
    for arg in arguments:
        path = Path(arg)
        if arg != STDIN and path.is_dir():
            yield from sorted(str(p) for p in path.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())
        else:
            yield arg


def _objects(doc: Document) -> Iterator[tuple[Loc, dict[str, Any]]]:
    """The objects of a document; a ``kind: List`` contributes its items."""
    if not isinstance(doc.data, dict):
        return
    if doc.data.get("kind") == "List" and isinstance(doc.data.get("items"), list):
        for i, item in enumerate(doc.data["items"]):
            if isinstance(item, dict):
                yield ("items", i), item
    else:
        yield (), doc.data


# ---- references ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """An object a plan names, and where it names it."""

    key: ObjectKey
    loc: Loc
    who: str


def references(spec: model.RecoveryPlanSpec) -> list[Reference]:
    """Objects a plan names that a bundle would usually carry: its Services, and what its checks,
    actions and traffic targets name (each kind's ``named_objects``).

    Secrets and Leases are never among them: secrets come from a secret manager rather than the
    repository, and Leases are made at run time by the programs that hold them.
    """
    found = [Reference(ObjectKey("Service", s.service, None), ("services", i, "service"), f"service {s.name}")
             for i, s in enumerate(spec.services)]
    found += [Reference(ObjectKey(o.ref.kind, o.ref.name, o.ref.namespace), loc, who)
              for loc, who, o in sections.named_objects(spec)]
    return found


def _resolves(ref: ObjectKey, plan_namespace: str | None, bundle: set[ObjectKey]) -> bool:
    namespace = ref.namespace or plan_namespace
    return any(o.kind == ref.kind and o.name == ref.name and (namespace is None or o.namespace in (None, namespace))
               for o in bundle)


# ---- plans -----------------------------------------------------------------------------------


class _PlanCheck:
    """The findings of one RecoveryPlan document."""

    def __init__(self, doc: Document, loc: Loc, obj: dict[str, Any]) -> None:
        self.doc, self.loc, self.obj = doc, loc, obj
        self.findings: list[Finding] = []
        meta = obj.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        namespace = meta.get("namespace") if isinstance(meta, dict) else None
        self.name = name if isinstance(name, str) and name else "<unnamed>"
        self.namespace = namespace if isinstance(namespace, str) else None
        if meta is not None and not isinstance(meta, dict):
            self.add(("metadata",), f"metadata must be a mapping, not a {_yaml_type(meta)}", top=True)
        elif name is not None and not isinstance(name, str):
            self.add(("metadata", "name"), f"metadata.name must be a string, not a {_yaml_type(name)}", top=True)
        if namespace is not None and not isinstance(namespace, str):
            self.add(("metadata", "namespace"), f"metadata.namespace must be a string, not a {_yaml_type(namespace)}",
                     top=True)

    def add(self, spec_loc: Loc, message: str, severity: str = ERROR, top: bool = False) -> None:
        """A finding at ``spec.<spec_loc>`` (or at the object's own ``spec_loc`` when ``top``)."""
        loc = spec_loc if top else ("spec", *spec_loc)
        self.findings.append(Finding(self.doc.file, self.doc.line((*self.loc, *loc)), severity, message,
                                     self.name, errors.field_path(loc) or None))

    def schema(self) -> model.RecoveryPlanSpec | None:
        if self.obj.get("apiVersion") != model.API_VERSION:
            self.add(("apiVersion",), f"apiVersion {self.obj.get('apiVersion')!r} is not {model.API_VERSION}",
                     top=True)
        if self.name == "<unnamed>" and not any(f.field and f.field.startswith("metadata") for f in self.findings):
            self.add(("metadata",), "metadata.name is missing", top=True)
        spec = self.obj.get("spec")
        for loc in _not_finite(spec, ()):
            self.add(loc, "not a number the API server accepts (.nan and .inf have no JSON form)")
        try:
            # As the API server sees it: JSON, and as strict about types as the CRD's schema ("2" is
            # not a number, "true" not a boolean), where Python would coerce them.
            text = json.dumps(spec or {}, default=str, allow_nan=True)
            return model.RecoveryPlanSpec.model_validate_json(text, strict=True)
        except ValidationError as err:
            for problem in err.errors():
                self.add(tuple(problem["loc"]), problem["msg"].removeprefix("Value error, "))
            return None

    def field_paths(self, spec: model.RecoveryPlanSpec) -> None:
        for loc, check in sections.check_items(spec):
            if check.resource is None:
                continue
            try:
                paths.parse(check.resource.path)
            except paths.InvalidPath as err:
                self.add((*loc, "resource", "path"), f"check {check.name}: {err}")

    def run(self, bundle: set[ObjectKey], strict: bool) -> list[Finding]:
        spec = self.schema()
        if spec is None:
            return self.findings
        for problem in problems.of(spec):  # what the engine would refuse, at the field at fault
            self.add(problem.at, problem.message)
        self.field_paths(spec)
        for ref in references(spec):
            if not _resolves(ref.key, self.namespace, bundle):
                ns = ref.key.namespace or self.namespace
                where = f" in namespace {ns}" if ns else ""
                self.add(ref.loc, f"{ref.who}: {ref.key.kind} {ref.key.name}{where} is not in the bundle",
                         ERROR if strict else WARNING)
        if self.namespace:  # without its namespace, which namespaces are "other" is not known
            for other, fields in consent.foreign_namespaces(spec, self.namespace).items():
                for loc in fields:
                    self.add(loc, f"names namespace {other}: the operator acts on it only once that "
                             f"namespace grants namespace {self.namespace} (ConfigMap {consent.GRANT_CONFIGMAP}, key "
                             f"{consent.GRANT_KEY}) or it runs with --cross-namespace-references Allowed", WARNING)
        return self.findings


def _yaml_type(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "number",
            float: "number"}.get(type(value), type(value).__name__)


def _not_finite(value: Any, loc: Loc) -> Iterator[Loc]:
    """Where ``value`` holds .nan or .inf (without recursion)."""
    stack = [(value, loc)]
    while stack:
        current, at = stack.pop()
        if isinstance(current, float) and not math.isfinite(current):
            yield at
        elif isinstance(current, dict):
            stack.extend((v, (*at, k)) for k, v in current.items() if isinstance(k, str | int))
        elif isinstance(current, list):
            stack.extend((v, (*at, i)) for i, v in enumerate(current))


# ---- the bundle ------------------------------------------------------------------------------


def _read(name: str) -> str:
    if name == STDIN:
        stream = getattr(sys.stdin, "buffer", None)  # a text stream without one: already decoded
        data = stream.read() if stream is not None else sys.stdin.read().encode("utf-8", "surrogateescape")
    else:
        data = Path(name).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise Unreadable(line, f"not UTF-8 text: byte 0x{data[err.start]:02x} at offset {err.start}") from err


def validate_bundle(arguments: Iterable[str], strict: bool = False) -> Report:
    """Validate every RecoveryPlan in the files and directories given, against the bundle they form."""
    report = Report()
    docs: list[Document] = []
    for name in expand(arguments):
        report.files.append(name)
        try:
            text = _read(name)
        except OSError as err:
            report.findings.append(Finding(name, 1, ERROR, f"cannot read: {err.strerror or err}"))
            continue
        except Unreadable as err:
            report.findings.append(Finding(name, err.line, ERROR, str(err)))
            continue
        found, unreadable = read_documents(name, text)
        docs += found
        report.findings += unreadable
    bundle: set[ObjectKey] = set()
    plans: list[tuple[Document, Loc, dict[str, Any]]] = []
    for doc in docs:
        for loc, obj in _objects(doc):
            meta: dict[str, Any] = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
            namespace = meta.get("namespace")
            if isinstance(obj.get("kind"), str) and isinstance(meta.get("name"), str) and meta["name"] \
                    and (namespace is None or isinstance(namespace, str)):
                bundle.add(ObjectKey(obj["kind"], meta["name"], namespace))
            if obj.get("kind") == model.KIND:
                plans.append((doc, loc, obj))
    for doc, loc, obj in plans:
        check = _PlanCheck(doc, loc, obj)
        try:
            report.findings += check.run(bundle, strict)
        except Exception as err:  # a bug here: one finding at the plan, never a traceback
            report.findings += [*check.findings, Finding(doc.file, doc.line(loc), ERROR, f"reentry validate could "
                                                         f"not check this plan ({type(err).__name__}); please report "
                                                         "it", check.name)]
    report.plans = len(plans)
    order = {name: i for i, name in enumerate(report.files)}
    report.findings.sort(key=lambda f: (order.get(f.file, len(order)), f.line))
    return report
