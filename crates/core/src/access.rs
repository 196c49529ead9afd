//! Access control in types. A privileged store method takes a capability, and the only
//! way to get one is to ask an [`Actor`], which checks the roles first. Code that has not
//! checked cannot call the method. Every capability is bound to the actor's school, so
//! the store scopes by it and another school's ids simply are not found.

use crate::ids::{PersonId, SchoolId};
use crate::person::{Email, Role, Roles};

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
            .then(|| PeopleAdmin {
                school: self.school,
                by: Some(self.person),
                granter: Granter::Person(self.roles.clone()),
            })
    }

    /// The network manager owns the web rules and reads "blocked wrongly" reports.
    pub fn web_rules_owner(&self) -> Option<WebRulesOwner> {
        self.has(Role::NetworkManager).then_some(WebRulesOwner {
            school: self.school,
            by: Some(self.person),
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

    /// The network manager and the DSL see the access log's pseudonymous reports: counts
    /// by category, site, rule and device, never a person.
    pub fn log_report_viewer(&self) -> Option<LogReportViewer> {
        self.has_any(&[Role::NetworkManager, Role::Dsl])
            .then_some(LogReportViewer {
                school: self.school,
            })
    }

    /// The designated safeguarding lead acts on safeguarding alerts from the access log
    /// and records what was done.
    pub fn safeguarding_lead(&self) -> Option<SafeguardingLead> {
        self.has(Role::Dsl).then_some(SafeguardingLead {
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

/// Sees the pseudonymous access-log reports of one school.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogReportViewer {
    school: SchoolId,
}

impl LogReportViewer {
    pub fn school(&self) -> SchoolId {
        self.school
    }
}

/// Acts on the safeguarding alerts of one school (the DSL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafeguardingLead {
    school: SchoolId,
    by: PersonId,
}

impl SafeguardingLead {
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

/// May add and edit people in one school, and grant the roles its granter may grant
/// ([`may_grant`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeopleAdmin {
    school: SchoolId,
    by: Option<PersonId>,
    granter: Granter,
}

/// Who is granting roles: the operator at the command line, or a person with these roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Granter {
    Operator,
    Person(Roles),
}

impl Role {
    /// How much power the role holds, for [`may_grant`]: nobody grants at or above their
    /// own.
    fn rank(self) -> u8 {
        match self {
            Role::TrustAdministrator => 5,
            Role::Headteacher => 4,
            Role::SchoolAdministrator => 3,
            Role::LeadershipTeam | Role::Dsl | Role::NetworkManager => 2,
            Role::Receptionist | Role::Staff | Role::Governor => 1,
        }
    }
}

/// The table of who may grant (or take away) which role:
///
/// | role | granted by |
/// |---|---|
/// | trust administrator | a trust administrator, or the command line |
/// | headteacher | a trust administrator, the current headteacher, or the command line |
/// | any other | someone holding a role ranked above it (trust administrator > headteacher > school administrator > leadership team, DSL, network manager > receptionist, staff, governor), or the command line |
///
/// So a school administrator may make someone a DSL or a receptionist, but not a school
/// administrator, a headteacher or a trust administrator; nobody can raise themselves.
pub fn may_grant(granter: &Granter, role: Role) -> bool {
    let roles = match granter {
        Granter::Operator => return true,
        Granter::Person(roles) => roles,
    };
    match role {
        Role::TrustAdministrator => roles.contains(&Role::TrustAdministrator),
        Role::Headteacher => {
            roles.contains(&Role::TrustAdministrator) || roles.contains(&Role::Headteacher)
        }
        other => roles.iter().any(|r| r.rank() > other.rank()),
    }
}

impl PeopleAdmin {
    /// For the command line only (`undersign bootstrap`, `undersign demo`, `undersign
    /// import`), which act as the operator of the installation rather than as a person in
    /// the school, and may grant every role.
    pub fn for_operator(school: SchoolId) -> Self {
        Self {
            school,
            by: None,
            granter: Granter::Operator,
        }
    }
    pub fn school(&self) -> SchoolId {
        self.school
    }
    pub fn by(&self) -> Option<PersonId> {
        self.by
    }

    /// Checks that this administrator may give a person `roles` and `email`, the person
    /// having `before` (their roles and email) until now, or being new. Every role added
    /// or taken away must be one the administrator may grant; and the email of someone
    /// holding a role the administrator may not grant cannot be changed by them (a reset
    /// link sent to a new address would hand over that person's account). The error says
    /// what is refused, for the form or the import line.
    pub fn check_grant(
        &self,
        before: Option<(&Roles, &Email)>,
        roles: &Roles,
        email: &Email,
    ) -> Result<(), String> {
        let empty = Roles::new();
        let old = before.map_or(&empty, |(r, _)| r);
        for role in roles.symmetric_difference(old) {
            if !may_grant(&self.granter, *role) {
                let verb = if roles.contains(role) {
                    "give"
                } else {
                    "take away"
                };
                return Err(format!(
                    "you cannot {verb} the {} role: {}",
                    role.label(),
                    who_grants(*role)
                ));
            }
        }
        if let Some((old_roles, old_email)) = before
            && old_email != email
            && let Some(role) = old_roles.iter().find(|r| !may_grant(&self.granter, **r))
        {
            return Err(format!(
                "you cannot change the email of someone with the {} role: {}",
                role.label(),
                who_grants(*role)
            ));
        }
        Ok(())
    }
}

/// Who may grant `role`, in words.
fn who_grants(role: Role) -> &'static str {
    match role {
        Role::TrustAdministrator => "only a trust administrator can",
        Role::Headteacher => "only the headteacher or a trust administrator can",
        Role::SchoolAdministrator => "only the headteacher can",
        _ => "only someone with a more senior role can",
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
    by: Option<PersonId>,
}

impl WebRulesOwner {
    /// For the command line only (`undersign logs …`): the operator of the server, who
    /// already holds the database, keeps the device register and loads the logs.
    pub fn for_operator(school: SchoolId) -> Self {
        Self { school, by: None }
    }
    pub fn school(&self) -> SchoolId {
        self.school
    }
    /// The network manager acting, or `None` for the command line.
    pub fn by(&self) -> Option<PersonId> {
        self.by
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
    #[test]
    fn nobody_grants_a_role_at_or_above_their_own() {
        let by = |roles: &[Role]| Granter::Person(roles.iter().copied().collect());
        let admin = by(&[Role::SchoolAdministrator, Role::Staff]);
        for role in [
            Role::TrustAdministrator,
            Role::Headteacher,
            Role::SchoolAdministrator,
        ] {
            assert!(!may_grant(&admin, role), "{role:?}");
        }
        for role in [
            Role::Dsl,
            Role::LeadershipTeam,
            Role::Receptionist,
            Role::Staff,
        ] {
            assert!(may_grant(&admin, role), "{role:?}");
        }
        let head = by(&[Role::Headteacher]);
        assert!(may_grant(&head, Role::Headteacher));
        assert!(may_grant(&head, Role::SchoolAdministrator));
        assert!(!may_grant(&head, Role::TrustAdministrator));
        let trust = by(&[Role::TrustAdministrator]);
        assert!(may_grant(&trust, Role::TrustAdministrator));
        assert!(may_grant(&trust, Role::Headteacher));
        assert!(may_grant(&Granter::Operator, Role::TrustAdministrator));
        assert!(!may_grant(&by(&[Role::Staff]), Role::Staff));
    }

    #[test]
    fn a_school_administrator_cannot_raise_herself_nor_take_over_the_head() {
        let admin = actor(&[Role::SchoolAdministrator, Role::Staff])
            .people_admin()
            .unwrap();
        let roles = |r: &[Role]| -> Roles { r.iter().copied().collect() };
        let email = Email::parse("a@school.example").unwrap();
        let own = roles(&[Role::SchoolAdministrator, Role::Staff]);
        let err = admin
            .check_grant(
                Some((&own, &email)),
                &roles(&[Role::SchoolAdministrator, Role::Staff, Role::Headteacher]),
                &email,
            )
            .unwrap_err();
        assert!(err.contains("give the Headteacher role"), "{err}");
        assert!(
            admin
                .check_grant(
                    Some((&own, &email)),
                    &roles(&[Role::SchoolAdministrator, Role::TrustAdministrator]),
                    &email
                )
                .is_err()
        );
        // Nor demote the head, nor move the head's email to an address she reads.
        let head = roles(&[Role::Headteacher, Role::Staff]);
        let head_email = Email::parse("head@school.example").unwrap();
        assert!(
            admin
                .check_grant(
                    Some((&head, &head_email)),
                    &roles(&[Role::Staff]),
                    &head_email
                )
                .unwrap_err()
                .contains("take away")
        );
        assert!(
            admin
                .check_grant(Some((&head, &head_email)), &head, &email)
                .unwrap_err()
                .contains("change the email")
        );
        // Ordinary work is untouched.
        assert!(
            admin
                .check_grant(None, &roles(&[Role::Staff, Role::Dsl]), &email)
                .is_ok()
        );
    }
}
