"""The simulator's PATCH semantics: strategic merge, JSON merge and JSON patch, as the API server
applies them to built-in kinds."""

from __future__ import annotations

import pytest

from clusters.simulator.patching import PatchError, apply_patch, patch_kind

DEP = {"metadata": {"name": "api", "annotations": {"a": "1", "deployment.kubernetes.io/revision": "3"}},
       "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [
           {"name": "app", "image": "api:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "resources": {"limits": {"memory": "256Mi", "cpu": "1"}}},
           {"name": "sidecar", "image": "proxy:2"}]}}}}


def test_strategic_merge_merges_containers_by_name_and_keeps_the_rest() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "resources": {"limits": {"memory": "512Mi"}}, "env": [{"name": "B", "$patch": "delete"}]}]}}}}
    out = apply_patch(DEP, patch, "strategic")
    app, sidecar = out["spec"]["template"]["spec"]["containers"]
    assert app["resources"]["limits"] == {"memory": "512Mi", "cpu": "1"} and app["image"] == "api:1"
    assert app["env"] == [{"name": "A", "value": "1"}] and sidecar == {"name": "sidecar", "image": "proxy:2"}
    assert DEP["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] == "256Mi"  # a copy


def test_strategic_merge_adds_a_new_container_and_null_deletes_a_field() -> None:
    out = apply_patch(DEP, b'{"spec":{"template":{"spec":{"containers":[{"name":"debug","image":"busybox"}]}},'
                           b'"replicas":null}}', "strategic")
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["app", "sidecar", "debug"]
    assert "replicas" not in out["spec"]


def test_json_merge_patch_replaces_lists_whole() -> None:
    out = apply_patch(DEP, {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "x"}]}}}}, "merge")
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "only", "image": "x"}]


def test_json_patch_replaces_the_template_as_kubectl_rollout_undo_does() -> None:
    template = {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "app", "image": "api:0"}]}}
    out = apply_patch(DEP, [{"op": "replace", "path": "/spec/template", "value": template},
                            {"op": "replace", "path": "/metadata/annotations", "value": {"a": "1"}},
                            {"op": "test", "path": "/spec/replicas", "value": 2},
                            {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}},
                            {"op": "remove", "path": "/metadata/labels/x"}], "json")
    assert out["spec"]["template"] == template and out["metadata"]["annotations"] == {"a": "1"}
    assert out["metadata"]["labels"] == {}


@pytest.mark.parametrize(("body", "kind", "code"), [
    ([{"op": "replace", "path": "/spec/nothing/here", "value": 1}], "json", 422),
    ([{"op": "test", "path": "/spec/replicas", "value": 3}], "json", 422),
    ([{"op": "frobnicate", "path": "/spec"}], "json", 400),
    ({"spec": {}}, "json", 400),
    (b"not json", "strategic", 400),
    ({"spec": {"template": {"spec": {"containers": [{"image": "no-name"}]}}}}, "strategic", 400),
])
def test_bad_patches_answer_like_the_apiserver(body: object, kind: str, code: int) -> None:
    with pytest.raises(PatchError) as err:
        apply_patch(DEP, body, kind)
    assert err.value.code == code


def test_content_types() -> None:
    assert patch_kind("application/strategic-merge-patch+json") == "strategic"
    assert patch_kind("application/merge-patch+json; charset=utf-8") == "merge"
    assert patch_kind("application/json-patch+json") == "json"
    with pytest.raises(PatchError) as err:
        patch_kind("application/json")
    assert err.value.code == 415 and "accepted media types include" in str(err.value)
