"""One contract for every cache, then what each one adds."""

import subprocess
import sys
import threading

import pytest

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


@pytest.fixture(params=list(CACHES))
def cache_and_value(request, tmp_path):
    make, value = CACHES[request.param]
    cache = make(tmp_path)
    yield cache, value
    for layer in getattr(cache, "layers", [cache]):
        proxied = getattr(layer, "proxied", layer)
        if isinstance(proxied, FileCache):
            proxied.close()


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
