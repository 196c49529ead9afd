//! `undersign demo`: a demo school on an embedded database — the AUP published to staff
//! and governors with the council's social media policy as its referenced document, a
//! short AUP for visitors at the kiosk, and one account per role printed on the console —
//! then the server.

use anyhow::{Context, anyhow};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use undersign_core::access::{PeopleAdmin, PolicyPublisher};
use undersign_core::person::{Audience, Person, Role};
use undersign_core::policy::{ChangeKind, DraftInput, NewReference, Title};
use undersign_core::school::School;
use undersign_core::store::Store;

use crate::provision::{PersonSpec, add_person, create_school};

/// The policy the demo publishes to staff and governors: the school's AUP as given to us,
/// less the paper form's signature lines and declaration (the sign form has its own).
pub const AUP_MARKDOWN: &str = include_str!("../../../demo/acceptable-use-policy.md");
pub const AUP_TITLE: &str = "ICT Acceptable Use Policy";
/// The policy visitors sign at the kiosk: a handful of statements to read on a tablet.
pub const VISITOR_AUP_MARKDOWN: &str =
    include_str!("../../../demo/visitor-acceptable-use-policy.md");
pub const VISITOR_AUP_TITLE: &str = "Visitor Acceptable Use Policy";
pub const VISITOR_DECLARATION: &str =
    "I have read the statements above and I will follow them while I am in the school.";
pub const ORGANISATION: &str = "Sefton Council (demo)";
pub const SCHOOL_NAME: &str = "Demo Primary School";
pub const SCHOOL_SLUG: &str = "demo";
pub const REFERENCE_TITLE: &str = "Sefton Council Social Media Policy (summary for staff)";

/// Our own short summary standing in for the council's document in the demo.
pub const REFERENCE_TEXT: &str = "\
This is a short summary written for the Undersign demo; the council's own Social Media \
Policy is the document that applies.

1. Staff must follow the council's Social Media Policy whenever they use social media, \
at work or in their own time.
2. Do not accept or send friend or follow requests to or from pupils. Ask the headteacher \
for advice before accepting a request from a parent or carer.
3. Do not post anything about pupils, their families or colleagues, and never post images \
of pupils on personal accounts.
4. Do not present personal views as those of the school or the council.
5. Report anything that worries you, including content about the school, to the \
headteacher.
";

/// One demo account.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub role: &'static str,
    pub full_name: &'static str,
    pub email: &'static str,
    pub roles: &'static [Role],
    /// Managed by the line manager.
    pub managed: bool,
}

/// The demo school's people. The browser tests log in with these addresses.
pub const ACCOUNTS: &[DemoAccount] = &[
    DemoAccount {
        role: "Headteacher",
        full_name: "Helen Carter",
        email: "headteacher@demo.example",
        roles: &[Role::Headteacher, Role::Staff],
        managed: false,
    },
    DemoAccount {
        role: "Network manager",
        full_name: "Alistair West",
        email: "network.manager@demo.example",
        roles: &[Role::NetworkManager, Role::Staff],
        managed: false,
    },
    DemoAccount {
        role: "Line manager",
        full_name: "Priya Shah",
        email: "line.manager@demo.example",
        roles: &[Role::LeadershipTeam, Role::Staff],
        managed: false,
    },
    DemoAccount {
        role: "Staff",
        full_name: "Sam Taylor",
        email: "staff1@demo.example",
        roles: &[Role::Staff],
        managed: true,
    },
    DemoAccount {
        role: "Staff",
        full_name: "Jo Brown",
        email: "staff2@demo.example",
        roles: &[Role::Staff],
        managed: true,
    },
    DemoAccount {
        role: "Governor",
        full_name: "Gareth Evans",
        email: "governor@demo.example",
        roles: &[Role::Governor],
        managed: false,
    },
    DemoAccount {
        role: "Receptionist",
        full_name: "Rita Patel",
        email: "reception@demo.example",
        roles: &[Role::Receptionist, Role::Staff],
        managed: false,
    },
    DemoAccount {
        role: "School administrator",
        full_name: "Dana Wright",
        email: "admin@demo.example",
        roles: &[Role::SchoolAdministrator, Role::Staff],
        managed: false,
    },
];

/// Extra staff for load tests: `Load Tester Aab` … with `load0001@demo.example` ….
pub fn extra_staff(n: usize) -> Vec<PersonSpec> {
    (1..=n)
        .map(|i| PersonSpec {
            full_name: format!("Load Tester {}", letters(i)),
            email: format!("load{i:04}@demo.example"),
            roles: vec![Role::Staff],
            line_manager: None,
        })
        .collect()
}

/// 1 → "Aab", 2 → "Aac" …: names may not contain digits.
fn letters(mut i: usize) -> String {
    let mut out = Vec::new();
    for _ in 0..3 {
        out.push(char::from(b'a' + u8::try_from(i % 26).unwrap_or(0)));
        i /= 26;
    }
    while i > 0 {
        out.push(char::from(b'a' + u8::try_from(i % 26).unwrap_or(0)));
        i /= 26;
    }
    out.reverse();
    let mut s: String = out.into_iter().collect();
    if let Some(first) = s.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    s
}

/// What the demo set up or found, to print.
#[derive(Debug)]
pub struct DemoSetup {
    pub school: School,
    /// (role, name, email, password if known)
    pub accounts: Vec<(String, String, String, Option<String>)>,
    pub created: bool,
    pub extra_staff: usize,
}

/// Creates the demo school unless the database already has a school; with
/// `demo_password`, (re)sets every demo account's password to it.
pub async fn ensure(
    store: &dyn Store,
    keys_dir: &Path,
    demo_password: Option<&str>,
    extra: usize,
) -> anyhow::Result<DemoSetup> {
    if let Some(pw) = demo_password {
        undersign_web::auth::check_new_password(pw, pw)
            .map_err(|e| anyhow!("--demo-password: {e}"))?;
    }
    if extra > 0 && demo_password.is_none() {
        return Err(anyhow!(
            "--extra-staff needs --demo-password (the load-test accounts share it)"
        ));
    }
    let schools = store.schools().await?;
    let existing = match store.school_by_slug(SCHOOL_SLUG).await? {
        Some(s) => Some(s),
        None => schools.into_iter().next(),
    };
    match existing {
        Some(school) => reuse(store, school, demo_password).await,
        None => create(store, keys_dir, demo_password, extra).await,
    }
}

async fn reuse(
    store: &dyn Store,
    school: School,
    demo_password: Option<&str>,
) -> anyhow::Result<DemoSetup> {
    let people = store.people(school.id).await?;
    let hash = match demo_password {
        Some(pw) => Some(crate::password::hash(pw)?),
        None => None,
    };
    let mut accounts = Vec::new();
    let mut extra_staff = 0;
    for person in &people {
        if let Some(h) = &hash {
            store.set_password(school.id, person.id, h).await?;
        }
        let known = ACCOUNTS.iter().find(|a| a.email == person.email.as_str());
        match known {
            Some(a) => accounts.push((
                a.role.to_string(),
                person.full_name.to_string(),
                person.email.to_string(),
                demo_password.map(str::to_string),
            )),
            None if person.email.as_str().starts_with("load") => extra_staff += 1,
            None => accounts.push((
                role_label(person),
                person.full_name.to_string(),
                person.email.to_string(),
                demo_password.map(str::to_string),
            )),
        }
    }
    // In the order of the first run's banner; anyone added since comes last.
    accounts.sort_by_key(|a| {
        ACCOUNTS
            .iter()
            .position(|known| known.email == a.2)
            .unwrap_or(usize::MAX)
    });
    Ok(DemoSetup {
        school,
        accounts,
        created: false,
        extra_staff,
    })
}

fn role_label(person: &Person) -> String {
    person
        .roles
        .iter()
        .map(|r| r.label())
        .collect::<Vec<_>>()
        .join(", ")
}

async fn create(
    store: &dyn Store,
    keys_dir: &Path,
    demo_password: Option<&str>,
    extra: usize,
) -> anyhow::Result<DemoSetup> {
    let org = store.create_organisation(ORGANISATION).await?;
    let created = create_school(
        store,
        org.id,
        SCHOOL_NAME,
        SCHOOL_SLUG,
        "Europe/London",
        keys_dir,
    )
    .await?;
    let school = created.school;
    let admin = PeopleAdmin::for_operator(school.id);

    let mut accounts = Vec::new();
    let mut headteacher = None;
    let mut line_manager = None;
    for a in ACCOUNTS {
        let password = match demo_password {
            Some(pw) => pw.to_string(),
            None => crate::password::generate(),
        };
        let spec = PersonSpec {
            full_name: a.full_name.to_string(),
            email: a.email.to_string(),
            roles: a.roles.to_vec(),
            line_manager: if a.managed { line_manager } else { None },
        };
        let person = add_person(store, &admin, &spec, crate::password::hash(&password)?).await?;
        if a.roles.contains(&Role::Headteacher) {
            headteacher = Some(person.id);
        }
        if a.role == "Line manager" {
            line_manager = Some(person.id);
        }
        accounts.push((
            a.role.to_string(),
            a.full_name.to_string(),
            a.email.to_string(),
            Some(password),
        ));
    }
    if extra > 0 {
        // One hash for all of them: they share the demo password, and argon2 is slow by
        // design.
        let pw = demo_password.ok_or_else(|| anyhow!("--extra-staff needs --demo-password"))?;
        let hash = crate::password::hash(pw)?;
        for spec in extra_staff(extra) {
            add_person(store, &admin, &spec, hash.clone()).await?;
        }
    }
    let headteacher = headteacher.ok_or_else(|| anyhow!("the demo has no headteacher"))?;
    let publisher = PolicyPublisher::for_operator(school.id, headteacher);
    publish_aup(store, publisher).await?;
    publish_visitor_aup(store, publisher).await?;
    Ok(DemoSetup {
        school,
        accounts,
        created: true,
        extra_staff: extra,
    })
}

/// Creates the AUP and publishes version 1 to staff and governors, with the social media
/// policy referenced.
pub async fn publish_aup(store: &dyn Store, publisher: PolicyPublisher) -> anyhow::Result<()> {
    let reference =
        NewReference::text(REFERENCE_TITLE, REFERENCE_TEXT).map_err(|e| anyhow!("{e}"))?;
    publish(
        store,
        publisher,
        AUP_TITLE,
        AUP_MARKDOWN,
        "",
        [Audience::Staff, Audience::Governors],
        Some(reference),
    )
    .await
}

/// Creates the visitor AUP and publishes version 1 to visitors: the kiosk shows it.
pub async fn publish_visitor_aup(
    store: &dyn Store,
    publisher: PolicyPublisher,
) -> anyhow::Result<()> {
    publish(
        store,
        publisher,
        VISITOR_AUP_TITLE,
        VISITOR_AUP_MARKDOWN,
        VISITOR_DECLARATION,
        [Audience::Visitors],
        None,
    )
    .await
}

async fn publish(
    store: &dyn Store,
    publisher: PolicyPublisher,
    title: &str,
    markdown: &str,
    declaration: &str,
    audiences: impl IntoIterator<Item = Audience>,
    reference: Option<NewReference>,
) -> anyhow::Result<()> {
    let name = title;
    let title = Title::parse("title", title).map_err(|e| anyhow!("{e}"))?;
    let policy = store.create_policy(&publisher, &title).await?;
    let draft = DraftInput::parse(
        markdown,
        declaration,
        ChangeKind::Major,
        "First version published with Undersign.",
        audiences.into_iter().collect::<BTreeSet<_>>(),
    )
    .map_err(|e| anyhow!("the demo policy {name} is not valid: {e}"))?;
    let version = store.create_draft(&publisher, policy.id, draft).await?;
    if let Some(reference) = reference {
        store
            .add_reference(&publisher, version.id, reference)
            .await?;
    }
    store
        .publish(&publisher, version.id, undersign_core::time::now())
        .await
        .with_context(|| format!("cannot publish the demo policy {name}"))?;
    Ok(())
}

/// The console block: where to go and how to log in.
pub fn banner(setup: &DemoSetup, url: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out);
    let _ = writeln!(out, "  Undersign demo: {} — {url}", setup.school.name);
    let _ = writeln!(out);
    let name_w = setup.accounts.iter().map(|a| a.1.len()).max().unwrap_or(4);
    let email_w = setup.accounts.iter().map(|a| a.2.len()).max().unwrap_or(5);
    let _ = writeln!(
        out,
        "  {:<22} {:<name_w$}  {:<email_w$}  password",
        "role", "name", "email"
    );
    for (role, name, email, password) in &setup.accounts {
        let pw = password
            .as_deref()
            .unwrap_or("(printed when the demo was first created)");
        let _ = writeln!(out, "  {role:<22} {name:<name_w$}  {email:<email_w$}  {pw}");
    }
    if setup.extra_staff > 0 {
        let _ = writeln!(
            out,
            "  … and {} load-test staff, load0001@demo.example onwards, same password",
            setup.extra_staff
        );
    }
    let _ = writeln!(out);
    if setup.created {
        let _ = writeln!(
            out,
            "  These passwords are shown once. Run `undersign demo --demo-password …` to set them all to one you choose."
        );
    } else if setup.accounts.iter().all(|a| a.3.is_none()) {
        let _ = writeln!(
            out,
            "  Reusing the demo data from the first run; its passwords were printed then. Pass --demo-password … to reset them all."
        );
    }
    let _ = writeln!(out, "  Stop with ctrl-c.");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_policy_is_valid_policy_markdown() {
        let rendered = undersign_core::markdown::render_policy(AUP_MARKDOWN).unwrap();
        assert!(rendered.statements.len() >= 10);
        assert!(NewReference::text(REFERENCE_TITLE, REFERENCE_TEXT).is_ok());
    }

    #[test]
    fn the_demo_policy_has_no_paper_form_lines_or_second_declaration() {
        for paper in [
            "Signature ....",
            "Date ....",
            "(printed)",
            "I have read above statements",
        ] {
            assert!(
                !AUP_MARKDOWN.contains(paper),
                "{paper:?} is still in the demo policy"
            );
        }
    }

    #[test]
    fn the_visitor_policy_is_a_handful_of_statements() {
        let rendered = undersign_core::markdown::render_policy(VISITOR_AUP_MARKDOWN).unwrap();
        let n = rendered.statements.len();
        assert!((5..=10).contains(&n), "{n} statements");
        let text = VISITOR_AUP_MARKDOWN.to_lowercase();
        for topic in ["wi-fi", "photographs", "safeguarding", "sign out"] {
            assert!(
                text.contains(topic),
                "the visitor policy says nothing about {topic}"
            );
        }
    }

    #[test]
    fn load_test_names_are_valid_and_distinct() {
        let specs = extra_staff(800);
        let names: BTreeSet<_> = specs.iter().map(|s| s.full_name.clone()).collect();
        assert_eq!(names.len(), 800);
        for s in &specs {
            undersign_core::person::FullName::parse(&s.full_name).unwrap();
            undersign_core::person::Email::parse(&s.email).unwrap();
        }
    }
}
