import os

out_of_memory_observers = []


def _cuda_attach_out_of_memory_observer(observer):
    out_of_memory_observers.append(observer)


# A release without the observer API, for the bridge's note about it.
if os.environ.get("FAKE_TORCH_WITHOUT_OBSERVER") == "1":
    del _cuda_attach_out_of_memory_observer
