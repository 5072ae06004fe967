//! The `worker-events-out` Lambda: signed platform events to workspace endpoints.

fn main() -> Result<(), webtrigger::lambda::Error> {
    webtrigger::lambda::start(webtrigger::lambda::worker_events_out())
}
