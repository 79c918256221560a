"""The README's settings table, generated from the declarations in chalicelib.config.

``python -m infra.settings_doc`` prints it; a test checks that the README holds exactly this table.
"""
from __future__ import annotations

from typing import Any

from chalicelib import config

_GROUP_TITLES = {
    config.ResourceSettings: "resources", config.IdentitySettings: "identity", config.ApiSettings: "API",
    config.LimitSettings: "limits", config.DataSettings: "data", config.LocationSettings: "locations",
    config.ImportSettings: "import", config.FrontSettings: "front", config.StoreSettings: "stores",
    config.AuthSettings: "cloud authorizer",
}


def _default(entry: config.Entry) -> str:
    if entry.required:
        return "required"
    value: Any = entry.default
    if value is None:
        return "unset"
    text = config.render(value)
    return f"`{text}`" if text else "empty"


def table() -> str:
    """A markdown table: variable, group, default, meaning; one row per declared setting."""
    rows = ["| variable | group | default | meaning |", "|---|---|---|---|"]
    for name, entry in config.ENV.items():
        rows.append(f"| `{name}` | {_GROUP_TITLES[entry.group]} | {_default(entry)} | {entry.declaration.doc} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
