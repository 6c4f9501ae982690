history_settings = None


def _record_memory_history(enabled=None, context=None, stacks=None, max_entries=None):
    global history_settings
    history_settings = {"enabled": enabled, "context": context, "stacks": stacks,
                        "max_entries": max_entries}


def _snapshot():
    """The current snapshot format, for the segments the fake allocator holds:
    each segment's first half allocated (with a Python frame), the rest free.
    FAKE_TORCH_SNAPSHOT_FAILS=1 makes it raise, as a broken release might."""
    import os

    from . import segments

    if os.environ.get("FAKE_TORCH_SNAPSHOT_FAILS") == "1":
        raise RuntimeError("snapshot unavailable in this build")

    result = []
    for address, size in segments:
        half = size // 2
        frames = [{"filename": "train.py", "line": 42, "name": "forward"}]
        result.append({
            "device": 0, "address": address, "total_size": size, "allocated_size": half,
            "active_size": half, "requested_size": half, "stream": 0,
            "segment_type": "large", "segment_pool_id": (0, 0), "is_expandable": False,
            "frames": [],
            "blocks": [
                {"address": address, "size": half, "requested_size": half,
                 "state": "active_allocated", "frames": frames},
                {"address": address + half, "size": size - half, "requested_size": 0,
                 "state": "inactive", "frames": []},
            ],
        })
    return {"segments": result, "device_traces": [[]],
            "allocator_settings": {"expandable_segments": False},
            "history": dict(history_settings or {})}
