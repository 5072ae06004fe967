//! One conformance suite for every port, run against the embedded adapters (in-process) and the AWS
//! adapters (against moto on loopback). A case is a plain async fn taking a fresh backend.

mod backends;
mod keyring_cases;
mod queue_cases;
mod table_cases;

macro_rules! conformance {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() { super::$module::$case(super::backends::sqlite().await).await }) *
        }
        mod aws {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() { super::$module::$case(super::backends::aws().await).await }) *
        }
    };
}

conformance!(
    table_cases::conditional_put_conflict,
    table_cases::reserved_attribute_names_are_refused,
    table_cases::version_conflict,
    table_cases::transaction_all_or_nothing,
    table_cases::transaction_counter_add,
    table_cases::query_pagination_both_directions,
    table_cases::gsi_query,
    table_cases::query_projection,
    table_cases::counter_add_under_concurrency,
    table_cases::counter_add_of_zero,
    table_cases::ttl_expiry_honoured_on_read,
    queue_cases::queue_redelivery_after_visibility_timeout,
    queue_cases::backoff_releases_early,
    queue_cases::dlq_after_max_receives,
    queue_cases::delay_defers_visibility,
    queue_cases::queue_input_is_validated,
    keyring_cases::data_key_bound_to_encryption_context,
    keyring_cases::tampered_ciphertext_rejected,
    keyring_cases::rewrap_keeps_data_readable,
    keyring_cases::secrets_by_name,
);
