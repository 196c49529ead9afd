//! The navigation bar at the top of every page: only the links the signed-in person's
//! roles let them use, so nobody is shown a page that would answer 403.

use crate::session::CurrentUser;

/// The navigation shown at the top of each page, with only the links the person may use.
#[derive(Debug, Clone, Default)]
pub struct Nav {
    pub person_name: Option<String>,
    pub school_name: String,
    pub csrf_token: String,
    pub can_publish: bool,
    pub can_manage_people: bool,
    pub can_see_compliance: bool,
    pub can_own_web_rules: bool,
    pub can_see_organisation: bool,
    pub can_work_reception: bool,
    pub can_manage_kiosks: bool,
    pub can_decide_disclosures: bool,
    pub can_lead_safeguarding: bool,
    pub can_see_log_reports: bool,
}

impl Nav {
    pub fn anonymous() -> Self {
        Self::default()
    }

    pub fn for_user(user: &CurrentUser) -> Self {
        Self {
            person_name: Some(user.person.full_name.to_string()),
            school_name: user.school.name.clone(),
            csrf_token: user.csrf_token.clone(),
            can_publish: user.actor.policy_publisher().is_some(),
            can_manage_people: user.actor.people_admin().is_some(),
            can_see_compliance: user.actor.compliance_viewer().is_some(),
            can_own_web_rules: user.actor.web_rules_owner().is_some(),
            can_see_organisation: user.actor.organisation_viewer().is_some(),
            can_work_reception: user.actor.reception().is_some(),
            can_manage_kiosks: user.actor.kiosk_admin().is_some(),
            can_decide_disclosures: user.actor.has(undersign_core::person::Role::Headteacher),
            can_lead_safeguarding: user.actor.safeguarding_lead().is_some(),
            can_see_log_reports: user.actor.log_report_viewer().is_some(),
        }
    }
}
