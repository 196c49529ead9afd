//! Who had which address and who held which device, over time: what attribution reads.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use foldhash::{HashMap, HashMapExt};

use super::{Attribution, Via};
use crate::ids::{DeviceId, PersonId};

/// A span of time in which something held (`until` exclusive, open when `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span<T> {
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    pub value: T,
}

impl<T: Copy> Span<T> {
    fn at(&self, t: DateTime<Utc>) -> Option<T> {
        (self.from <= t && self.until.is_none_or(|u| t < u)).then_some(self.value)
    }
}

/// Everything attribution needs, read once per batch: proxy user names, who had which
/// address, and who held which device, over time.
#[derive(Debug, Clone, Default)]
pub struct Register {
    accounts: HashMap<String, PersonId>,
    addresses: HashMap<IpAddr, Vec<Span<DeviceId>>>,
    holders: HashMap<DeviceId, Vec<Span<PersonId>>>,
}

impl Register {
    /// A proxy user name (compared without case) that names `person`.
    pub fn add_account(&mut self, name: &str, person: PersonId) {
        self.accounts.insert(name.to_lowercase(), person);
    }

    /// Builds the user names of people from their sign-in emails: the whole address,
    /// and the part before `@` where no two people share it.
    pub fn add_emails<'a>(&mut self, people: impl IntoIterator<Item = (PersonId, &'a str)>) {
        let mut local: HashMap<String, Option<PersonId>> = HashMap::new();
        for (person, email) in people {
            let email = email.to_lowercase();
            if let Some((name, _)) = email.split_once('@') {
                local
                    .entry(name.to_owned())
                    .and_modify(|p| {
                        if *p != Some(person) {
                            *p = None
                        }
                    })
                    .or_insert(Some(person));
            }
            self.accounts.entry(email).or_insert(person);
        }
        for (name, person) in local {
            if let Some(person) = person {
                self.accounts.entry(name).or_insert(person);
            }
        }
    }

    /// `device` had `ip` over `span`.
    pub fn add_address(&mut self, ip: IpAddr, span: Span<DeviceId>) {
        self.addresses.entry(ip).or_default().push(span);
    }

    /// `device` was held by a person over `span`.
    pub fn add_holder(&mut self, device: DeviceId, span: Span<PersonId>) {
        self.holders.entry(device).or_default().push(span);
    }

    /// Who made a request from `ip` as `user` at `at`. The proxy user wins (it is who
    /// signed in to the proxy); otherwise the device the address belonged to then, and
    /// whoever held that device then. Where two spans overlap the newer one wins.
    pub fn attribute(&self, ip: IpAddr, user: Option<&str>, at: DateTime<Utc>) -> Attribution {
        let device = self
            .addresses
            .get(&ip)
            .and_then(|spans| newest_at(spans, at));
        let by_user = user.and_then(|u| {
            self.accounts
                .get(u)
                .or_else(|| self.accounts.get(&u.to_lowercase()))
                .copied()
        });
        if let Some(person) = by_user {
            return Attribution {
                person: Some(person),
                device,
                via: Via::ProxyUser,
            };
        }
        let Some(device) = device else {
            return Attribution {
                person: None,
                device: None,
                via: Via::Unattributed,
            };
        };
        match self.holders.get(&device).and_then(|s| newest_at(s, at)) {
            Some(person) => Attribution {
                person: Some(person),
                device: Some(device),
                via: Via::DeviceHolder,
            },
            None => Attribution {
                person: None,
                device: Some(device),
                via: Via::DeviceOnly,
            },
        }
    }
}

fn newest_at<T: Copy>(spans: &[Span<T>], at: DateTime<Utc>) -> Option<T> {
    spans
        .iter()
        .filter(|s| s.at(at).is_some())
        .max_by_key(|s| s.from)
        .map(|s| s.value)
}
