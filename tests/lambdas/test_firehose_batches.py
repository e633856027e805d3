import pytest
from shopper_analyze.firehose_batches import (
    MAX_BYTES_PER_CALL,
    MAX_BYTES_PER_RECORD,
    RecordTooLargeError,
    failed_positions,
    plan_calls,
)


def test_no_record_means_no_call():
    assert plan_calls([]) == []


def test_at_most_500_records_per_call_in_order():
    calls = plan_calls([1400] * 1001)

    assert [len(c) for c in calls] == [500, 500, 1]
    assert [p for c in calls for p in c] == list(range(1001))


def test_at_most_4_mib_per_call():
    calls = plan_calls([MAX_BYTES_PER_RECORD] * 9)

    assert all(len(c) * MAX_BYTES_PER_RECORD <= MAX_BYTES_PER_CALL for c in calls)
    assert [len(c) for c in calls] == [4, 4, 1]


def test_record_exactly_at_the_limit_is_accepted_and_one_byte_more_is_not():
    assert plan_calls([MAX_BYTES_PER_RECORD]) == [[0]]
    with pytest.raises(RecordTooLargeError, match="record 1"):
        plan_calls([10, MAX_BYTES_PER_RECORD + 1])


def test_call_filled_to_exactly_4_mib_is_not_split():
    assert plan_calls([MAX_BYTES_PER_CALL // 8] * 8) == [list(range(8))]


def test_failed_positions_are_the_entries_with_an_error_code():
    response = {
        "FailedPutCount": 2,
        "RequestResponses": [
            {"RecordId": "a"},
            {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."},
            {"RecordId": "c"},
            {"ErrorCode": "InternalFailure", "ErrorMessage": "x"},
        ],
    }

    assert failed_positions(response, 4) == [1, 3]


def test_no_failure_means_nothing_to_retry():
    assert failed_positions({"FailedPutCount": 0, "RequestResponses": [{"RecordId": "a"}]}, 1) == []


def test_failure_count_without_matching_entries_retries_everything():
    assert failed_positions({"FailedPutCount": 1, "RequestResponses": []}, 3) == [0, 1, 2]
