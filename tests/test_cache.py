"""One contract for every cache, then what each one adds."""

import pathlib
import subprocess
import sys
import tempfile
import threading

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from ftrack_like_api.cache import (
    FileCache,
    LayeredCache,
    MemoryCache,
    ObjectKeyMaker,
    SerialisedCache,
    StringKeyMaker,
)

# Each cache, and a value it holds: a FileCache holds text or bytes, the others anything JSON can hold.
CACHES = {
    "memory": (lambda path: MemoryCache(), {"name": "comp", "bid": 2.5}),
    "file": (lambda path: FileCache(path / "cache.sqlite"), "text value"),
    "serialised-file": (lambda path: SerialisedCache(FileCache(path / "cache.sqlite")), {"name": "comp", "ids": [1, 2]}),
    "serialised-memory": (lambda path: SerialisedCache(MemoryCache()), ["a", {"b": None}]),
    "layered": (
        lambda path: LayeredCache([MemoryCache(), SerialisedCache(FileCache(path / "cache.sqlite"))]),
        {"name": "comp"},
    ),
}


def close(cache):
    for layer in getattr(cache, "layers", [cache]):
        proxied = getattr(layer, "proxied", layer)
        if isinstance(proxied, FileCache):
            proxied.close()


@pytest.fixture(params=list(CACHES))
def cache_and_value(request, tmp_path):
    make, value = CACHES[request.param]
    cache = make(tmp_path)
    yield cache, value
    close(cache)


def test_set_get_overwrite_delete(cache_and_value):
    cache, value = cache_and_value
    cache["Task:1"] = value
    assert cache["Task:1"] == value and "Task:1" in cache and len(cache) == 1
    cache["Task:1"] = value
    assert len(cache) == 1
    del cache["Task:1"]
    assert "Task:1" not in cache and len(cache) == 0


def test_a_missing_key_is_a_key_error(cache_and_value):
    cache, _ = cache_and_value
    with pytest.raises(KeyError):
        cache["missing"]
    with pytest.raises(KeyError):
        del cache["missing"]
    assert cache.get("missing", "default") == "default"


def test_keys_are_text(cache_and_value):
    cache, value = cache_and_value
    with pytest.raises(TypeError, match="cache keys are text"):
        cache[("Task", 1)] = value


def test_update_iterate_and_clear(cache_and_value):
    cache, value = cache_and_value
    cache.update({f"k{i}": value for i in range(50)})
    cache.update([("extra", value)], more=value)
    assert sorted(cache) == sorted([f"k{i}" for i in range(50)] + ["extra", "more"])
    assert dict(cache.items())["k7"] == value
    cache.clear()
    assert len(cache) == 0 and list(cache) == []


def test_threads_writing_at_once(cache_and_value):
    cache, value = cache_and_value

    def write(n):
        for i in range(100):
            cache[f"t{n}:{i}"] = value

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 400


KEYS = st.sampled_from(["", "a", "Task:1", "Task:2", "ü:名前"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)
#: What each cache holds: a FileCache text or bytes, the others anything JSON holds.
VALUES = {"file": st.text(max_size=8) | st.binary(max_size=8)}


class CacheAgainstADict(RuleBasedStateMachine):
    """A cache and a dict, given the same calls of the MutableMapping API, answer alike."""

    make = None  # set per cache by the test
    values = JSON
    folder = None

    def __init__(self):
        super().__init__()
        self.cache = self.make(tempfile.mkdtemp(dir=self.folder))
        self.model = {}

    def teardown(self):
        close(self.cache)

    def both(self, call):
        """``call`` on the cache and on the model: the same answer, or the same kind of error."""
        outcomes = []
        for mapping in (self.cache, self.model):
            try:
                outcomes.append(("answer", call(mapping)))
            except KeyError:
                outcomes.append(("KeyError", None))
        assert outcomes[0] == outcomes[1]

    @rule(key=KEYS, data=st.data())
    def set(self, key, data):
        value = data.draw(self.values)
        self.both(lambda mapping: mapping.__setitem__(key, value))

    @rule(key=KEYS)
    def get(self, key):
        self.both(lambda mapping: mapping[key])

    @rule(key=KEYS)
    def get_with_a_default(self, key):
        self.both(lambda mapping: mapping.get(key, "default"))

    @rule(key=KEYS)
    def delete(self, key):
        self.both(lambda mapping: mapping.__delitem__(key))

    @rule(key=KEYS)
    def pop(self, key):
        self.both(lambda mapping: mapping.pop(key))

    @rule(key=KEYS, data=st.data())
    def setdefault(self, key, data):
        value = data.draw(self.values)
        self.both(lambda mapping: mapping.setdefault(key, value))

    @rule(data=st.data())
    def update(self, data):
        values = data.draw(st.dictionaries(KEYS, self.values, max_size=3))
        named = data.draw(st.dictionaries(st.sampled_from(["k", "Task"]), self.values, max_size=2))
        self.both(lambda mapping: mapping.update(values, **named))

    @rule()
    def clear(self):
        self.both(lambda mapping: mapping.clear())

    @invariant()
    def the_same_contents(self):
        assert len(self.cache) == len(self.model)
        assert sorted(self.cache) == sorted(self.model)
        assert dict(self.cache.items()) == self.model
        assert all(key in self.cache for key in self.model) and ("never set" in self.cache) is False


@pytest.mark.parametrize("name", list(CACHES))
def test_every_cache_answers_as_a_dict_would(name, tmp_path):
    machine = type(f"{CacheAgainstADict.__name__}[{name}]", (CacheAgainstADict,), {
        "make": staticmethod(lambda folder: CACHES[name][0](pathlib.Path(folder))),
        "values": VALUES.get(name, JSON),
        "folder": str(tmp_path),
    })  # fmt: skip
    # Bounded: 100 runs of 30 steps per cache keep the five under a few seconds each.
    run_state_machine_as_test(machine, settings=settings(max_examples=min(settings().max_examples, 100), stateful_step_count=30))


# --- what each cache adds ----------------------------------------------------------------------


def test_a_memory_cache_is_bounded_and_keeps_the_recently_used():
    cache = MemoryCache(maxsize=3)
    for key in "abc":
        cache[key] = key
    cache["a"]  # used: b is now the least recent
    cache["d"] = "d"
    assert sorted(cache) == ["a", "c", "d"]


def test_a_file_cache_holds_text_or_bytes_only(tmp_path):
    cache = FileCache(tmp_path / "cache.sqlite")
    cache["bytes"] = b"\x00\x01"
    assert cache["bytes"] == b"\x00\x01"
    with pytest.raises(TypeError, match="wrap it in a SerialisedCache"):
        cache["number"] = 5
    cache.close()


def test_a_file_cache_is_made_on_first_use_and_shared_between_processes(tmp_path):
    path = tmp_path / "deep" / "folder" / "cache.sqlite"
    cache = FileCache(path)
    assert not path.exists()
    cache.update({f"Task:{i}": f"value {i}" for i in range(100)})
    reader = (
        "import sys; from ftrack_like_api.cache import FileCache; c = FileCache(sys.argv[1]); "
        "print(len(c), c['Task:42']); c['from the child'] = 'hello'"
    )
    result = subprocess.run([sys.executable, "-c", reader, str(path)], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["100", "value", "42"]
    assert cache["from the child"] == "hello"
    cache.close()


def test_a_second_file_cache_on_the_same_file_starts_warm(tmp_path):
    first = SerialisedCache(FileCache(tmp_path / "cache.sqlite"))
    first.update({f"Task:{i}": {"id": i} for i in range(10)})
    second = SerialisedCache(FileCache(tmp_path / "cache.sqlite"))
    assert dict(second.items())["Task:3"] == {"id": 3}
    first.proxied.close()
    second.proxied.close()


def test_a_serialised_cache_says_what_it_cannot_encode():
    cache = SerialisedCache(MemoryCache())
    with pytest.raises(TypeError, match="cannot be cached as JSON"):
        cache["x"] = object()
    custom = SerialisedCache(MemoryCache(), encode=repr, decode=lambda text: f"decoded {text}")
    custom["k"] = 5
    assert custom["k"] == "decoded 5"


def test_a_layered_cache_promotes_what_it_finds_below(tmp_path):
    top, bottom = MemoryCache(), MemoryCache()
    layered = LayeredCache([top, bottom])
    bottom["only below"] = 1
    assert layered["only below"] == 1
    assert top["only below"] == 1
    layered["both"] = 2
    assert top["both"] == bottom["both"] == 2
    del layered["only below"]
    assert "only below" not in top and "only below" not in bottom
    with pytest.raises(ValueError):
        LayeredCache([])


def test_key_makers():
    assert StringKeyMaker().key("Task", "5c60") == "Task:5c60"
    maker = ObjectKeyMaker()
    assert maker.key("Task", {"b": 1, "a": (2, 3)}) == maker.key("Task", {"a": [2, 3], "b": 1})
    assert maker.key("Task", 1) != maker.key("Task", "1")
