//! Access control in types. A privileged store method takes a capability, and the only
//! way to get one is to ask an [`Actor`], which checks the roles first. Code that has not
//! checked cannot call the method. Every capability is bound to the actor's school, so
//! the store scopes by it and another school's ids simply are not found.

use crate::ids::{PersonId, SchoolId};
use crate::person::{Role, Roles};

/// A logged-in person acting in one school.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub school: SchoolId,
    pub person: PersonId,
    pub roles: Roles,
}

impl Actor {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }

    /// The headteacher writes and publishes policy versions and sees declines.
    pub fn policy_publisher(&self) -> Option<PolicyPublisher> {
        self.has(Role::Headteacher).then_some(PolicyPublisher {
            school: self.school,
            by: self.person,
        })
    }

    /// The headteacher and the school administrator keep the roster.
    pub fn people_admin(&self) -> Option<PeopleAdmin> {
        self.has_any(&[Role::Headteacher, Role::SchoolAdministrator])
            .then_some(PeopleAdmin {
                school: self.school,
                by: Some(self.person),
            })
    }

    /// The network manager owns the web rules and reads "blocked wrongly" reports.
    pub fn web_rules_owner(&self) -> Option<WebRulesOwner> {
        self.has(Role::NetworkManager).then_some(WebRulesOwner {
            school: self.school,
        })
    }

    /// The trust or council administrator sees compliance across every school of the
    /// organisation that this school belongs to.
    pub fn organisation_viewer(&self) -> Option<OrganisationViewer> {
        self.has(Role::TrustAdministrator)
            .then_some(OrganisationViewer {
                school: self.school,
            })
    }

    /// Who may see the list of declines and the signing status of others.
    pub fn compliance_viewer(&self) -> Option<ComplianceViewer> {
        self.has_any(&[
            Role::Headteacher,
            Role::LeadershipTeam,
            Role::SchoolAdministrator,
        ])
        .then_some(ComplianceViewer {
            school: self.school,
        })
    }

    /// Reception: the receptionist, the leadership team, the headteacher and the school
    /// administrator (who runs the kiosks and covers the desk) see who is on site, print
    /// the fire roll, sign visitors out and sign in for a visitor (assisted).
    pub fn reception(&self) -> Option<Reception> {
        self.has_any(&[
            Role::Receptionist,
            Role::LeadershipTeam,
            Role::Headteacher,
            Role::SchoolAdministrator,
        ])
        .then_some(Reception {
            school: self.school,
            by: self.person,
        })
    }

    /// The school administrator and the headteacher register and revoke kiosks and set
    /// the visitor rules (re-signing interval, retention).
    pub fn kiosk_admin(&self) -> Option<KioskAdmin> {
        self.has_any(&[Role::SchoolAdministrator, Role::Headteacher])
            .then_some(KioskAdmin {
                school: self.school,
                by: self.person,
            })
    }
}

/// Works the reception desk of one school.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reception {
    school: SchoolId,
    by: PersonId,
}

impl Reception {
    pub fn school(&self) -> SchoolId {
        self.school
    }
    pub fn by(&self) -> PersonId {
        self.by
    }
}

/// Registers and revokes kiosks and sets the visitor rules in one school.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KioskAdmin {
    school: SchoolId,
    by: PersonId,
}

impl KioskAdmin {
    pub fn school(&self) -> SchoolId {
        self.school
    }
    pub fn by(&self) -> PersonId {
        self.by
    }
    /// For the command line only (`undersign demo`), acting as the named administrator.
    pub fn for_operator(school: SchoolId, by: PersonId) -> Self {
        Self { school, by }
    }
}

/// May create policies and publish versions in one school.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyPublisher {
    school: SchoolId,
    by: PersonId,
}

impl PolicyPublisher {
    pub fn school(&self) -> SchoolId {
        self.school
    }
    pub fn by(&self) -> PersonId {
        self.by
    }
}

/// May add and edit people in one school.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeopleAdmin {
    school: SchoolId,
    by: Option<PersonId>,
}

impl PeopleAdmin {
    /// For the command line only (`undersign bootstrap`, `undersign demo`), which act as
    /// the operator of the installation rather than as a person in the school.
    pub fn for_operator(school: SchoolId) -> Self {
        Self { school, by: None }
    }
    pub fn school(&self) -> SchoolId {
        self.school
    }
    pub fn by(&self) -> Option<PersonId> {
        self.by
    }
}

impl PolicyPublisher {
    /// For the command line only (`undersign demo`), publishing as the named headteacher.
    pub fn for_operator(school: SchoolId, headteacher: PersonId) -> Self {
        Self {
            school,
            by: headteacher,
        }
    }
}

/// May see who has signed, who has not, and who declined, in one school.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComplianceViewer {
    school: SchoolId,
}

impl ComplianceViewer {
    /// For the command line only (`undersign import`), which acts as the operator of the
    /// installation and shows when joiners will be due to sign.
    pub fn for_operator(school: SchoolId) -> Self {
        Self { school }
    }
    pub fn school(&self) -> SchoolId {
        self.school
    }
}

/// May see compliance across the schools of the organisation of one school.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrganisationViewer {
    school: SchoolId,
}

impl OrganisationViewer {
    /// The school the viewer acts from; the store widens it to its organisation.
    pub fn school(&self) -> SchoolId {
        self.school
    }
}

/// Owns a school's web rules and sees reports of wrong blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebRulesOwner {
    school: SchoolId,
}

impl WebRulesOwner {
    pub fn school(&self) -> SchoolId {
        self.school
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(roles: &[Role]) -> Actor {
        Actor {
            school: SchoolId(1),
            person: PersonId(7),
            roles: roles.iter().copied().collect(),
        }
    }

    #[test]
    fn only_the_headteacher_publishes() {
        assert!(actor(&[Role::Headteacher]).policy_publisher().is_some());
        for role in Role::ALL.into_iter().filter(|r| *r != Role::Headteacher) {
            assert!(actor(&[role]).policy_publisher().is_none(), "{role:?}");
        }
    }

    #[test]
    fn reception_is_for_the_receptionist_leadership_headteacher_and_administrator() {
        for role in [
            Role::Receptionist,
            Role::LeadershipTeam,
            Role::Headteacher,
            Role::SchoolAdministrator,
        ] {
            assert!(actor(&[role]).reception().is_some(), "{role:?}");
        }
        for role in [
            Role::Staff,
            Role::Governor,
            Role::Dsl,
            Role::NetworkManager,
            Role::TrustAdministrator,
        ] {
            assert!(actor(&[role]).reception().is_none(), "{role:?}");
        }
        assert!(actor(&[Role::SchoolAdministrator]).kiosk_admin().is_some());
        assert!(actor(&[Role::Receptionist]).kiosk_admin().is_none());
    }

    #[test]
    fn the_school_administrator_keeps_the_roster_but_cannot_publish() {
        let admin = actor(&[Role::SchoolAdministrator]);
        assert_eq!(admin.people_admin().map(|c| c.school()), Some(SchoolId(1)));
        assert!(admin.policy_publisher().is_none());
        assert!(actor(&[Role::Staff]).people_admin().is_none());
    }
}
