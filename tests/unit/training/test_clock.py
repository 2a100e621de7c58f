import time

from training.clock import FirstTrialClock


def test_the_clock_keeps_the_first_trial_start_only():
    clock = FirstTrialClock()
    assert clock.first_start is None
    before = time.monotonic()
    clock.on_trial_start(0, [], trial=object())
    first = clock.first_start
    clock.on_trial_start(1, [], trial=object())
    assert first is not None and before <= first == clock.first_start
