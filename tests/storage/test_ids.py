"""Time-ordered ids: unique per process, even for a published time many statuses share."""

from storage.ids import id_floor, new_id

PUBLISHED = 1_718_961_164.0  # whole seconds, as Mastodon's published times are


def test_new_id_unique_for_shared_published_time_between_other_ids() -> None:
    made = set()
    for _ in range(5000):
        made.add(new_id(PUBLISHED))
        new_id()  # ids for the current time, made in between as a worker does
    assert len(made) == 5000


def test_new_id_for_current_time_increases() -> None:
    made = [new_id() for _ in range(2000)]
    assert made == sorted(set(made))


def test_new_id_not_below_floor_of_its_time() -> None:
    assert new_id(PUBLISHED) >= id_floor(PUBLISHED)
