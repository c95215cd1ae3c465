"""Names newer ComfyUI releases add are used only where this ComfyUI has them, found by a feature test.

io.Schema's `search_aliases` (more words the node search finds a node by) exists in newer releases, not in
0.3.75: the main nodes pass it through common.newer_schema_fields, which keeps only the fields io.Schema has."""

import dataclasses
import importlib

MAIN = ("SDEEditSDEDrag", "SDEEditDragPoints", "SDEEditCycleSDERecord", "SDEEditResample", "SDEEditDiffEditMask",
        "SDEEditSyncSDE")


def common_module(host):
    return importlib.import_module(host.node("SDEEditResample").__module__.rsplit(".", 2)[0] + ".nodes.common")


def test_only_fields_this_schema_has_are_passed(host):
    from comfy_api.latest import io

    common = common_module(host)
    assert common.SCHEMA_FIELDS == {f.name for f in dataclasses.fields(io.Schema)}
    assert common.newer_schema_fields(description="d", no_such_field=1) == {"description": "d"}
    if "search_aliases" not in common.SCHEMA_FIELDS:  # 0.3.75: the main nodes still build their schemas
        for node_id in MAIN:
            assert host.node(node_id).GET_SCHEMA().node_id == node_id


def test_on_a_schema_with_search_aliases_the_main_nodes_give_theirs(host, monkeypatch):
    """A newer io.Schema, as the newer releases define it (a list of words, empty by default)."""
    from comfy_api.latest import io

    common = common_module(host)

    @dataclasses.dataclass
    class NewerSchema(io.Schema):
        search_aliases: list[str] = dataclasses.field(default_factory=list)

    monkeypatch.setattr(common, "SCHEMA_FIELDS", frozenset(f.name for f in dataclasses.fields(NewerSchema)))
    for node_id in MAIN:
        cls = host.node(node_id)
        monkeypatch.setattr(io, "Schema", NewerSchema)  # the nodes build io.Schema(...) from this module
        schema = cls.define_schema()
        assert isinstance(schema, NewerSchema) and schema.search_aliases, node_id
        assert all(isinstance(w, str) and w == w.lower() for w in schema.search_aliases), schema.search_aliases
