out_of_memory_observers = []


def _cuda_attach_out_of_memory_observer(observer):
    out_of_memory_observers.append(observer)
