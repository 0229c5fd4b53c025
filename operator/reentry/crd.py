"""Generate the RecoveryPlan CustomResourceDefinition from the pydantic models.

Run ``python -m reentry.crd`` to rewrite ``crds/``; ``tests/unit/test_crd.py`` fails when the
committed file differs from what the models produce. Pydantic's JSON schema is turned into a
*structural* OpenAPI v3 schema: references inlined, nullable unions flattened, ``title`` and
``additionalProperties: false`` dropped (the API server rejects both shapes), int-or-string kept
as the Kubernetes extension.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from reentry import model

CRD_FILE = f"{model.GROUP}_{model.PLURAL}.yaml"

_DROP_KEYS = {"title"}


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _inline(merged, defs)
    return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}


def _structural(node: Any) -> Any:
    """Rewrite one inlined JSON-schema node into the structural form the API server accepts."""
    if isinstance(node, list):
        return [_structural(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if node.get("x-kubernetes-int-or-string"):
        keep = {k: node[k] for k in ("description", "default") if k in node}
        return {"x-kubernetes-int-or-string": True, **keep}
    if "anyOf" in node:
        variants = [v for v in node.pop("anyOf") if v.get("type") != "null"]
        if len(variants) != 1:
            raise ValueError(f"cannot express union {variants!r} structurally")
        # An optional field's description lives beside the anyOf; keep the outer one.
        if node.get("default", ...) is None:
            del node["default"]
        node = {**variants[0], **node}
    # JSON Schema 2020-12 writes exclusive bounds as numbers; OpenAPI v3 as a flag beside minimum/maximum.
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(exclusive), int | float) and not isinstance(node[exclusive], bool):
            node[bound], node[exclusive] = node[exclusive], True
    if node.get("additionalProperties") is False:
        del node["additionalProperties"]
    if node.get("additionalProperties") is True:
        # dict[str, Any]: free-form (a merge patch, a JobSpec); the operator validates what it can.
        del node["additionalProperties"]
        node["x-kubernetes-preserve-unknown-fields"] = True
    if node.get("default", ...) is None:
        del node["default"]
    return {k: _structural(v) for k, v in node.items() if k not in _DROP_KEYS}


def openapi_schema(cls: type[BaseModel]) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of one model."""
    raw = cls.model_json_schema()
    inlined = _inline(raw, raw.get("$defs", {}))
    result: dict[str, Any] = _structural(inlined)
    return result


def build_crd() -> dict[str, Any]:
    """The CustomResourceDefinition object for RecoveryPlan."""
    spec_schema = openapi_schema(model.RecoveryPlanSpec)
    status_schema = openapi_schema(model.RecoveryPlanStatus)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{model.PLURAL}.{model.GROUP}"},
        "spec": {
            "group": model.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": model.KIND,
                "listKind": f"{model.KIND}List",
                "plural": model.PLURAL,
                "singular": model.SINGULAR,
                "shortNames": [model.SHORT_NAME],
                "categories": ["reentry"],
            },
            "versions": [
                {
                    "name": model.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                        {"name": "Stage", "type": "string", "jsonPath": ".status.stage"},
                        {"name": "Weight", "type": "integer", "jsonPath": ".status.traffic.weight"},
                        {"name": "Mode", "type": "string", "jsonPath": ".spec.mode"},
                        {"name": "Owner", "type": "string", "jsonPath": ".spec.owner.team", "priority": 1},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": model.RecoveryPlan.__doc__,
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema,
                                "status": status_schema,
                            },
                        }
                    },
                }
            ],
        },
    }


def render() -> str:
    """The CRD as the YAML text committed in ``crds/``."""
    header = "# Generated by `python -m reentry.crd` from operator/reentry/model.py. Do not edit.\n"
    return header + yaml.safe_dump(build_crd(), sort_keys=True, width=120)


#: Where the CRD is written by default: ``crds/`` and the Helm chart's copy (charts cannot read outside).
DEFAULT_DIRS = ("crds", "charts/reentry/files/crds")


def main(argv: list[str] | None = None) -> int:
    """Write the CRD into the given directories (default: ``crds`` and the chart's copy)."""
    args = sys.argv[1:] if argv is None else argv
    text = render()
    for directory in args or DEFAULT_DIRS:
        out_dir = Path(directory)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / CRD_FILE).write_text(text)
        print(f"wrote {out_dir / CRD_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
