//! A school's chasing schedule: when reminders and escalations are due, counted in
//! calendar days from the day a person was asked, and the hours mail may go out.

use chrono::{Duration, NaiveDate, NaiveTime};
use serde::Serialize;

use crate::person::InputError;

use super::*;

/// Reminders and digests are sent on school days from this time, school time.
pub const SEND_FROM: NaiveTime = match NaiveTime::from_hms_opt(8, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

/// … and until this time: a server that was down all day does not send them at night.
pub const SEND_UNTIL: NaiveTime = match NaiveTime::from_hms_opt(18, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

/// A school's reminder and escalation schedule, in calendar days counted from the day a
/// person was asked to sign. Always valid: build it with [`ChaseSettings::new`] or
/// [`ChaseSettings::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChaseSettings {
    first_reminder_days: u16,
    reminder_every_days: u16,
    escalate_to_manager_days: u16,
    escalate_to_head_days: u16,
}

impl ChaseSettings {
    /// The longest period any setting may have.
    pub const MAX_DAYS: i64 = 365;

    /// First reminder after 3 days, then weekly; line manager after 10 days, headteacher
    /// after 20.
    pub const DEFAULT: ChaseSettings = ChaseSettings {
        first_reminder_days: 3,
        reminder_every_days: 7,
        escalate_to_manager_days: 10,
        escalate_to_head_days: 20,
    };

    /// The field names used in errors, in form order.
    pub const FIRST_REMINDER: &'static str = "first reminder";
    pub const REMINDER_EVERY: &'static str = "then remind every";
    pub const TO_MANAGER: &'static str = "tell the line manager after";
    pub const TO_HEAD: &'static str = "tell the headteacher after";

    /// Checks the four periods; every problem is reported, each naming its field.
    pub fn new(
        first_reminder_days: i64,
        reminder_every_days: i64,
        escalate_to_manager_days: i64,
        escalate_to_head_days: i64,
    ) -> Result<Self, Vec<InputError>> {
        let days = |field: &'static str, n: i64| -> Result<u16, InputError> {
            u16::try_from(n)
                .ok()
                .filter(|d| (1..=Self::MAX_DAYS).contains(&i64::from(*d)))
                .ok_or_else(|| {
                    InputError::new(
                        field,
                        format!("enter a whole number of days from 1 to {}", Self::MAX_DAYS),
                    )
                })
        };
        let first = days(Self::FIRST_REMINDER, first_reminder_days);
        let every = days(Self::REMINDER_EVERY, reminder_every_days);
        let manager = days(Self::TO_MANAGER, escalate_to_manager_days);
        let mut head = days(Self::TO_HEAD, escalate_to_head_days);
        if let (Ok(m), Ok(h)) = (&manager, &head)
            && h <= m
        {
            head = Err(InputError::new(
                Self::TO_HEAD,
                format!("the headteacher is told after the line manager: enter more than {m} days"),
            ));
        }
        match (first, every, manager, head) {
            (Ok(f), Ok(e), Ok(m), Ok(h)) => Ok(Self {
                first_reminder_days: f,
                reminder_every_days: e,
                escalate_to_manager_days: m,
                escalate_to_head_days: h,
            }),
            (f, e, m, h) => Err([f.err(), e.err(), m.err(), h.err()]
                .into_iter()
                .flatten()
                .collect()),
        }
    }

    /// From the settings form; a blank or non-numeric entry is an error on its field.
    pub fn parse(
        first_reminder_days: &str,
        reminder_every_days: &str,
        escalate_to_manager_days: &str,
        escalate_to_head_days: &str,
    ) -> Result<Self, Vec<InputError>> {
        // Out of range stands for "not a number", so `new` reports it on the right field.
        let n = |raw: &str| raw.trim().parse::<i64>().unwrap_or(-1);
        Self::new(
            n(first_reminder_days),
            n(reminder_every_days),
            n(escalate_to_manager_days),
            n(escalate_to_head_days),
        )
    }

    pub fn first_reminder_days(&self) -> u16 {
        self.first_reminder_days
    }
    pub fn reminder_every_days(&self) -> u16 {
        self.reminder_every_days
    }
    pub fn escalate_to_manager_days(&self) -> u16 {
        self.escalate_to_manager_days
    }
    pub fn escalate_to_head_days(&self) -> u16 {
        self.escalate_to_head_days
    }

    /// The nominal day of reminder `n` (1, 2, …) for someone asked on `asked`.
    pub fn reminder_day(&self, asked: NaiveDate, n: u32) -> NaiveDate {
        let after = i64::from(self.first_reminder_days)
            + i64::from(n.saturating_sub(1)) * i64::from(self.reminder_every_days);
        asked + Duration::days(after)
    }

    /// The number of the latest reminder whose nominal day is `today` or earlier; 0 if
    /// none is due yet.
    pub fn latest_reminder(&self, asked: NaiveDate, today: NaiveDate) -> u32 {
        let since = (today - asked).num_days() - i64::from(self.first_reminder_days);
        if since < 0 {
            return 0;
        }
        u32::try_from(since / i64::from(self.reminder_every_days) + 1).unwrap_or(u32::MAX)
    }
}

/// When the mails of a schedule would go for someone asked on one day, for the settings
/// page to show what the numbers mean.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchedulePreview {
    pub asked: NaiveDate,
    /// The days of the first reminders actually sent (reminders that a holiday pushes onto
    /// the same school day go as one).
    pub reminders: Vec<NaiveDate>,
    /// The first day the line manager's digest could name them.
    pub manager: Option<NaiveDate>,
    /// The first day the headteacher's digest could name them.
    pub head: Option<NaiveDate>,
}

impl ChaseSettings {
    /// The first `count` reminder days and the first digest days for someone asked on
    /// `asked`, in `calendar`.
    pub fn preview(
        &self,
        calendar: &SchoolCalendar,
        asked: NaiveDate,
        count: usize,
    ) -> SchedulePreview {
        let mut reminders: Vec<NaiveDate> = Vec::new();
        let mut n = 1;
        while reminders.len() < count && n <= 1000 {
            if let Some(day) = calendar.next_school_day(self.reminder_day(asked, n))
                && reminders.last() != Some(&day)
            {
                reminders.push(day);
            }
            n += 1;
        }
        let after = |days: u16| calendar.next_school_day(asked + Duration::days(i64::from(days)));
        SchedulePreview {
            asked,
            reminders,
            manager: after(self.escalate_to_manager_days),
            head: after(self.escalate_to_head_days),
        }
    }
}

impl Default for ChaseSettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}
