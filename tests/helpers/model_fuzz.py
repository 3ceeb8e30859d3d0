"""Random mutations of real model files, each loaded and used as a caller of medsweep would:

    python tests/helpers/model_fuzz.py MODELS_DIR SEED COUNT [inprocess|child] [lightgbm-text|xgboost-json]

``inprocess``: ``load_model`` then ``predict_proba`` in this process, which a crash would kill;
``child``: through ``ModelProcess``; ``lightgbm-text``: only edits of LightGBM's model text; ``xgboost-json``:
only edits of XGBoost's JSON model. Prints one line per mutation as it starts (so a crash names it) and
then ``done <refused> <predicted> <failed> <slowest seconds>``."""

import io
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from helpers.model_archives import nodes, read_archive, training_frame, write_archive  # noqa: E402

ODD_NUMBERS = [-(2 ** 63), -(2 ** 31) - 1, -2, -1, 0, 1, 2, 3, 7, 255, 256, 65535, 2 ** 31, 2 ** 32 + 1, 10 ** 9,
               2 ** 63 - 1]
ODD_VALUES = [*ODD_NUMBERS, 1e308, -1e308, 0.5, None, True, "x", "", [], {}, [1, 2], "../../etc/passwd"]
LOADERS = ["ObjectNode", "TypeNode", "JsonNode", "ListNode", "TupleNode", "DictNode", "NdArrayNode", "TreeNode",
           "LossNode", "ConstructorFromReduceNode", "BytesNode", "FunctionNode", "CachedNode"]


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 20)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def mutate_schema(schema: dict, members: dict, rng: random.Random) -> str:
    every = nodes(schema, lambda n: True)
    node = rng.choice(every)
    what = rng.randrange(4)
    if what == 0 and node.get("__loader__") == "JsonNode":
        node["content"] = json.dumps(rng.choice(ODD_VALUES))
        return f"json {node.get('__class__')} -> {node['content'][:30]}"
    if what == 1:
        other = rng.choice(every)
        node["__class__"], node["__module__"] = other.get("__class__"), other.get("__module__")
        return f"class -> {node['__module__']}.{node['__class__']}"
    if what == 2:
        node["__loader__"] = rng.choice(LOADERS)
        return f"loader -> {node['__loader__']}"
    content = node.get("content")
    if isinstance(content, dict) and content.get("content") and isinstance(content["content"], dict):
        key = rng.choice(sorted(content["content"]))
        content["content"][key] = rng.choice([{"__class__": "int", "__module__": "builtins",
                                               "__loader__": "JsonNode", "content": json.dumps(rng.choice(ODD_NUMBERS)),
                                               "is_json": True}, rng.choice(every)])
        return f"attribute {key} replaced"
    node.pop("content", None)
    return "content removed"


def mutate_array(schema: dict, members: dict, rng: random.Random) -> str:
    arrays = nodes(schema, lambda n: n.get("__loader__") == "NdArrayNode" and n.get("type") == "numpy"
                   and n.get("file") in members)
    # Node arrays are what crashes: pick them more often.
    weighted = [n for n in arrays if np.load(io.BytesIO(members[n["file"]])).dtype.names] * 5 + arrays
    node = rng.choice(weighted)
    value = np.load(io.BytesIO(members[node["file"]]), allow_pickle=False).copy()
    if value.size == 0:
        return "empty array kept"
    flat = value.reshape(-1)
    fields = value.dtype.names or [None]
    for _ in range(rng.randint(1, 4)):
        i, field = rng.randrange(flat.size), rng.choice(fields)
        target = flat[field] if field else flat
        kind = target.dtype
        if kind.kind in "iu":
            info = np.iinfo(kind)
            target[i] = rng.choice([v for v in ODD_NUMBERS if info.min <= v <= info.max])
        elif kind.kind == "f":
            target[i] = rng.choice([np.nan, np.inf, -1e308, 0.0, 1e300, -1.0])
        elif kind.kind == "b":
            target[i] = not target[i]
    if rng.random() < 0.2:
        value = value.reshape(-1)[: max(0, value.size - rng.randint(1, 3))]
    buffer = io.BytesIO()
    np.save(buffer, value, allow_pickle=False)
    members[node["file"]] = buffer.getvalue()
    return f"array {node.get('__class__')} {node['file']} fields {fields[:3]}"


def mutate_lightgbm_text(schema: dict, members: dict, rng: random.Random) -> str:
    boosters = nodes(schema, lambda n: n.get("__class__") == "Booster" and isinstance(n.get("content"), dict))
    if not boosters:
        return mutate_array(schema, members, rng)
    handle = boosters[0]["content"]["content"]["_handle"]
    lines = json.loads(handle["content"]).split("\n")
    i = rng.randrange(len(lines))
    key, sep, value = lines[i].partition("=")
    tokens = value.split(" ") if sep else [lines[i]]
    tokens[rng.randrange(len(tokens))] = str(rng.choice(ODD_NUMBERS + ["nan", "-inf", "x", ""]))
    lines[i] = key + sep + " ".join(tokens) if sep else tokens[0]
    handle["content"] = json.dumps("\n".join(lines))
    return f"lightgbm line {i} ({key[:20]})"


def mutate_xgboost_json(schema: dict, members: dict, rng: random.Random) -> str:
    """One value of XGBoost's JSON model (a tree's array element or parameter, or a learner parameter)."""
    models = nodes(schema, lambda n: str(n.get("__class__", "")).startswith("XGBoost")
                   and isinstance(n.get("content"), dict))
    if not models:
        return mutate_array(schema, members, rng)
    booster = models[0]["content"]["content"]["_Booster"]
    model = json.loads(json.loads(booster["content"]))
    learner = model["learner"]
    trees = learner["gradient_booster"]["model"]["trees"]
    tree = rng.choice(trees)
    what = rng.randrange(3)
    if what == 0:
        key = rng.choice(sorted(k for k, v in tree.items() if isinstance(v, list) and v))
        tree[key][rng.randrange(len(tree[key]))] = rng.choice(ODD_NUMBERS + [0.5, None, "x"])
        where = f"tree {tree['id']} {key}"
    elif what == 1:
        key = rng.choice(sorted(tree["tree_param"]))
        tree["tree_param"][key] = str(rng.choice(ODD_NUMBERS))
        where = f"tree {tree['id']} {key}"
    else:
        key = rng.choice(sorted(learner["learner_model_param"]))
        learner["learner_model_param"][key] = str(rng.choice(ODD_NUMBERS))
        where = f"learner {key}"
    booster["content"] = json.dumps(json.dumps(model))
    return f"xgboost {where}"


TEXT_MUTATIONS = {"lightgbm-text": 3, "xgboost-json": 4}


def mutated(path: Path, rng: random.Random, out: Path, text: str = "") -> str:
    kind = TEXT_MUTATIONS[text] if text else rng.randrange(4)
    if kind == 0:
        out.write_bytes(flip_bytes(path.read_bytes(), rng))
        return "bytes"
    schema, members = read_archive(path)
    how = (mutate_schema, mutate_array, mutate_lightgbm_text, mutate_xgboost_json)[kind - 1](schema, members, rng)
    write_archive(out, schema, members)
    return how


def main(models: Path, seed: int, count: int, mode: str, text: str) -> None:
    from medsweep.learn.persistence import UntrustedModelError, load_model

    rng = random.Random(seed)
    X, _ = training_frame()
    paths = sorted(models.glob("*.skops"))
    refused = predicted = failed = 0
    slowest = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(count):
            source = rng.choice(paths)
            target = Path(tmp) / f"{n}.skops"
            how = mutated(source, rng, target, text)
            print(f"{n} {source.name} {how}", flush=True)
            start = time.monotonic()
            try:
                if mode == "child":
                    from medsweep.learn.persistence import ModelProcess

                    with ModelProcess(target, memory_mb=2048, timeout_s=60) as model:
                        model.predict_proba(X)
                else:
                    load_model(target).predict_proba(X)
                predicted += 1
            except UntrustedModelError:
                refused += 1
            except Exception:  # noqa: BLE001 - in this process a bad model may fail as it predicts: not a crash
                failed += 1
            slowest = max(slowest, time.monotonic() - start)
            target.unlink()
    print(f"done {refused} {predicted} {failed} {slowest:.2f}", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else "inprocess",
         next((a for a in sys.argv[5:] if a in TEXT_MUTATIONS), ""))
