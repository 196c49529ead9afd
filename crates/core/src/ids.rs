//! Row identifiers. Each is a distinct type so a `PersonId` can never be passed where a
//! `VersionId` is expected; every lookup also takes the `SchoolId` it is scoped to.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($($(#[$m:meta])* $name:ident),* $(,)?) => {$(
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }
    )*};
}

id_type!(
    /// A trust, council or single-school install.
    OrganisationId,
    /// A school: the tenant every school-owned row belongs to.
    SchoolId,
    /// A member of staff, governor or other account holder.
    PersonId,
    /// A policy (all of its versions).
    PolicyId,
    /// One version of a policy.
    VersionId,
    /// A document a version refers to (e.g. the council's social media policy).
    ReferenceId,
    /// A recorded signature.
    SignatureId,
    /// A recorded decline.
    DeclineId,
    /// A reception kiosk (a tablet registered by the school administrator).
    KioskId,
    /// One visit: a visitor signed in at reception.
    VisitId,
    /// A computer, laptop or tablet in the network manager's device register.
    DeviceId,
    /// A request to see a person's Internet log.
    DisclosureId,
    /// A safeguarding alert raised by the access log.
    SafeguardingAlertId,
    /// A request for permission, advice or a ruling (see [`crate::requests`]).
    RequestId,
    /// A pupil in the image consent register.
    PupilId,
);
