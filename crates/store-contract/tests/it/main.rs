//! The store contract: every test body here runs on SQLite and on PostgreSQL, as
//! `sqlite::<module>::<test>` and `postgres::<module>::<test>`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod backends;
mod blocking;
mod chasing;
mod compliance;
mod helpers;
mod ledger;
mod obligations;
mod outbox;
mod people;
mod policies;
mod receipts;
mod roster;
mod schools;
mod sessions;
mod signing;
mod tamper;
mod tenancy;
mod visits;

undersign_store_contract::db_tests! {
    schools: [
        creating_a_school_starts_its_chain_with_school_created,
        a_short_name_belongs_to_one_school_only,
        a_school_cannot_be_created_in_an_unknown_organisation,
    ],
    tenancy: [
        another_schools_ids_find_nothing,
        a_capability_of_one_school_cannot_touch_another_schools_rows,
        each_school_has_its_own_chain,
    ],
    people: [
        adding_a_person_records_them_in_the_ledger,
        updating_a_person_changes_the_record_and_is_recorded,
        an_email_already_used_in_the_school_is_a_conflict_naming_it,
        the_same_email_may_be_used_in_another_school,
        a_line_manager_from_another_school_is_refused,
        a_person_cannot_be_their_own_line_manager,
        only_active_people_with_a_password_can_log_in,
    ],
    sessions: [
        a_session_is_found_by_its_hash_until_it_expires,
        a_leavers_sessions_end,
        sessions_can_be_ended_one_by_one_or_all_for_a_person,
        login_failures_are_counted_per_key_since_a_time_and_cleared,
    ],
    policies: [
        a_draft_can_be_edited_until_it_is_published,
        versions_are_numbered_one_after_another,
        publishing_freezes_the_text_and_records_it_in_the_ledger,
        a_published_version_refuses_every_change_through_the_store,
        the_database_refuses_a_raw_change_to_a_published_version,
        the_policy_list_shows_the_current_version_and_the_draft,
        times_round_trip_exactly_to_the_microsecond,
    ],
    obligations: [
        everyone_in_the_audience_must_sign_the_first_version,
        a_minor_version_does_not_ask_anyone_to_sign_again,
        a_major_version_asks_everyone_again_and_names_what_they_last_signed,
        a_minor_version_after_a_major_one_is_what_is_signed,
        governors_are_asked_only_for_versions_published_to_governors,
        leavers_are_asked_nothing_and_cannot_sign,
        a_decline_is_shown_on_the_obligation,
    ],
    signing: [
        signing_records_the_evidence_and_its_ledger_entry,
        signing_without_viewing_records_no_viewed_seq,
        signing_twice_returns_the_first_signature_and_records_nothing,
        ten_concurrent_signatures_of_one_version_record_exactly_one,
        concurrent_signings_by_different_people_all_land_and_the_chain_verifies,
        a_draft_or_a_version_for_another_audience_cannot_be_signed,
        a_signature_of_different_text_is_refused,
        declines_are_listed_newest_first_with_the_persons_name,
        evidence_rows_cannot_be_changed_in_the_database,
    ],
    ledger: [
        the_head_is_the_last_entry,
        checkpoints_round_trip_in_seq_order,
        a_checkpoint_is_recorded_once,
        an_entry_is_found_by_the_start_of_its_hash,
    ],
    blocking: [
        a_report_is_kept_with_its_reporter_and_listed_newest_first,
        reports_are_seen_only_by_their_own_school,
    ],
    visits: [
        a_kiosk_enrols_once_and_a_revoked_kiosk_is_refused,
        a_visitor_signs_in_at_a_kiosk_and_out_again,
        a_repeat_visitor_signs_again_only_after_a_major_version_or_n_days,
        two_kiosks_sign_visitors_in_at_the_same_time,
        visitors_left_on_site_are_signed_out_at_the_end_of_the_day_and_flagged,
        the_purge_removes_visitor_names_and_the_chain_still_verifies,
        a_host_from_another_school_is_refused_and_reception_sees_only_its_own,
    ],
    chasing: [
        the_schedule_is_the_default_until_set_and_kept_per_school,
        the_database_refuses_a_schedule_out_of_range_or_out_of_order,
        holidays_are_replaced_whole_and_read_in_date_order,
        two_lists_saved_at_once_leave_one_of_them_whole,
        the_chase_facts_name_line_managers_of_active_people_only,
        chasing_twice_queues_nothing_new_and_a_signature_cancels_the_reminder,
        nothing_is_sent_in_a_holiday_or_at_a_weekend,
        a_leaver_is_not_chased_and_their_team_is_reported_to_no_one,
    ],
    receipts: [
        a_receipt_code_verifies_and_names_the_signature,
        a_sealed_receipt_verifies_and_one_changed_byte_does_not,
        a_receipt_for_a_tampered_entry_fails_with_the_entry_named,
    ],
    compliance: [
        the_dashboard_shows_who_signed_and_who_is_overdue,
        a_major_version_makes_earlier_signatures_stale_and_a_minor_one_does_not,
        declines_are_shown_and_leavers_are_not_counted,
        the_organisation_view_covers_its_schools_and_no_other,
        the_organisation_summary_is_kept_until_the_school_changes,
        the_signature_export_lists_every_signature_of_the_school_only,
        days_to_sign_is_kept_per_school_and_moves_due_dates,
    ],
    roster: [
        an_import_adds_joiners_changes_people_and_marks_leavers,
        a_file_that_cannot_be_applied_changes_nothing,
        a_preview_that_is_out_of_date_is_not_applied,
        a_joiners_due_date_counts_from_their_start_date,
    ],
    outbox: [
        a_dedupe_key_queues_a_message_once_per_school,
        a_message_is_not_claimed_before_its_time,
        two_claimers_never_get_the_same_message,
        an_expired_lease_is_claimed_again_and_only_its_holder_records,
        a_failed_attempt_is_retried_at_its_time_then_given_up,
        a_reminder_is_cancelled_once_its_person_signs_that_version,
        a_reminder_is_cancelled_when_its_person_signs_a_later_version,
        attachments_round_trip_byte_for_byte,
        the_outbox_page_is_newest_first_in_pages_and_only_the_schools_own,
        a_sign_in_link_is_mailed_once_and_signs_in_once,
        an_expired_or_unknown_link_or_a_leavers_link_is_refused,
        two_uses_of_one_link_at_once_sign_in_once,
        links_go_to_active_people_with_the_email_in_every_school,
    ],
    tamper: [
        an_untouched_chain_verifies,
        an_edited_payload_is_named_by_its_seq,
        a_deleted_entry_is_named_as_missing,
        swapped_entries_are_named_by_the_first_of_them,
        a_rewritten_chain_is_caught_by_its_signed_checkpoint,
    ],
}
