"""Values on the wire: what encode writes, decode reads back, for any value the protocol carries."""

import datetime
import json
import zoneinfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ftrack_like_api import wire

UTC = datetime.timezone.utc
MOMENTS = {"min_value": datetime.datetime(1900, 1, 2), "max_value": datetime.datetime(2200, 12, 30)}

#: Fixed offsets (whole seconds, as Python allows) and the world's zones, DST gaps and folds too.
DAY = datetime.timedelta(hours=23, minutes=59)
# Whole seconds: Python 3.11's fromisoformat drops an offset's microseconds (no real zone has any).
whole_seconds = st.integers(-int(DAY.total_seconds()), int(DAY.total_seconds())).map(lambda s: datetime.timedelta(seconds=s))
zones = st.builds(datetime.timezone, whole_seconds) | st.timezones()
aware = st.datetimes(**MOMENTS, timezones=zones)
naive = st.datetimes(**MOMENTS)
dates = st.dates(min_value=datetime.date(1, 1, 1))
#: Keys of plain mappings: anything but the two the wire gives a meaning.
keys = st.text(max_size=6).filter(lambda key: key not in ("__type__", "__entity_type__"))
plain = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=6)


def utc(moment):
    """The instant of an aware datetime, in UTC, computed without the wire module."""
    return (moment.replace(tzinfo=None) - moment.utcoffset()).replace(tzinfo=UTC)


class Reference(wire.Referable):
    """An object that travels as a reference, as the client's entities do."""

    __slots__ = ("entity_type", "key")

    def __init__(self, entity_type, key):
        self.entity_type, self.key = entity_type, key

    def wire_reference(self):
        return {"__entity_type__": self.entity_type, **self.key}

    def __eq__(self, other):
        return isinstance(other, Reference) and (self.entity_type, self.key) == (other.entity_type, other.key)


references = st.builds(
    Reference,
    st.sampled_from(["Task", "Shot", "Metadata"]),
    st.dictionaries(st.sampled_from(["id", "parent_id", "key"]), st.uuids().map(str), min_size=1, max_size=2),
)


def as_read(value):
    """``value`` as decode gives it back: tuples are lists, naive datetimes UTC, the rest as it was."""
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else utc(value)
    if isinstance(value, (list, tuple)):
        return [as_read(item) for item in value]
    if isinstance(value, dict):
        return {key: as_read(item) for key, item in value.items()}
    return value


values = st.recursive(
    plain | aware | naive | dates | references,
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)


@given(values)
def test_what_encode_writes_decode_reads_back(value):
    text = wire.encode(value)
    read = wire.decode(text, entity=lambda data: Reference(data.pop("__entity_type__"), data))
    assert read == as_read(value)


@given(aware)
@example(datetime.datetime(2024, 3, 31, 2, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")))  # in a DST gap
def test_an_aware_datetime_travels_as_its_instant_in_naive_utc_and_arrives_aware_in_utc(moment):
    written = wire.encode_value(moment)
    assert written == {"__type__": "datetime", "value": utc(moment).replace(tzinfo=None).isoformat()}
    read = wire.decode_value(written)
    assert read.tzinfo is UTC and read == utc(moment)


@given(naive)
def test_a_naive_datetime_is_taken_as_utc(moment):
    assert wire.decode_value(wire.encode_value(moment)) == moment.replace(tzinfo=UTC)


@given(aware)
def test_a_client_may_send_an_offset_or_z_and_the_same_instant_arrives(moment):
    text = moment.isoformat()
    assert wire.decode_value({"__type__": "datetime", "value": text}) == utc(moment)
    assert wire.parse_datetime(text) == utc(moment)
    zulu = utc(moment).replace(tzinfo=None).isoformat() + "Z"
    assert wire.decode_value({"__type__": "datetime", "value": zulu}) == utc(moment)


@given(dates)
def test_a_date_stays_a_date(day):
    written = wire.encode_value(day)
    assert written == {"__type__": "date", "value": day.isoformat()}
    read = wire.decode_value(written)
    assert type(read) is datetime.date and read == day
    # A bare date where a datetime is expected is its midnight, in UTC.
    assert wire.parse_datetime(day.isoformat()) == datetime.datetime.combine(day, datetime.time(), UTC)


def test_entities_are_given_to_the_caller_whole_and_left_as_dicts_without_one():
    text = json.dumps({"task": {"__entity_type__": "Task", "id": "t1",
                                "start_date": {"__type__": "datetime", "value": "2024-05-01T08:00:00"}}})  # fmt: skip
    given_entities = []
    assert wire.decode(text, entity=lambda data: given_entities.append(data) or "the entity") == {"task": "the entity"}
    assert given_entities == [json.loads(text)["task"]]  # as it came: the caller reads its values
    plain_read = wire.decode(text)
    assert plain_read["task"]["start_date"] == datetime.datetime(2024, 5, 1, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        {"__type__": "datetime", "value": "yesterday"},
        {"__type__": "datetime", "value": None},
        {"__type__": "datetime", "value": 20240501},
        {"__type__": "date", "value": "2024-13-01"},
        {"__type__": "date", "value": 5},
    ],
)
def test_a_tagged_value_that_is_not_one_is_a_value_error(value):
    with pytest.raises(ValueError):
        wire.decode_value(value)


@given(st.text(max_size=12))
def test_parse_datetime_reads_iso_8601_or_says_value_error(text):
    try:
        moment = wire.parse_datetime(text)
    except ValueError:
        return
    assert moment.tzinfo is UTC
