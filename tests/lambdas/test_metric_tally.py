import threading

from shopper_analyze.metric_tally import MetricTally


def test_counts_from_many_threads_are_all_kept():
    tally = MetricTally()
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        for _ in range(2000):
            tally.count("ImagesReceived")
            tally.sample("AnalyzerLatency", "Milliseconds", 1)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    snapshot = tally.drain()
    assert snapshot.counts == {"ImagesReceived": 16000}
    assert len(snapshot.samples) == 16000


def test_counts_are_summed_zero_counts_kept_and_drain_starts_over():
    tally = MetricTally()
    tally.count("FacesDetected", 3)
    tally.count("FacesDetected", 2)
    tally.count("FacesDropped", 0)
    tally.count_with_dimension("ImagesQuarantined", "reason", "unknown-device")
    tally.count_with_dimension("ImagesQuarantined", "reason", "unknown-device")

    snapshot = tally.drain()

    assert snapshot.counts == {"FacesDetected": 5, "FacesDropped": 0}
    assert snapshot.dimensioned == {("ImagesQuarantined", "reason", "unknown-device"): 2}
    assert tally.drain().counts == {}
