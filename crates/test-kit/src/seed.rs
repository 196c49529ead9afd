//! A seeded school for tests of any crate: an organisation, a school with its key, a
//! headteacher, a school administrator, two members of staff, a governor, and the AUP
//! published to staff and governors with one referenced document. Plus small builders for
//! drafts, request contexts and signatures.

use ed25519_dalek::SigningKey;
use std::collections::BTreeSet;
use undersign_core::access::{Actor, PeopleAdmin, PolicyPublisher};
use undersign_core::person::{Audience, Email, FullName, NewPerson, Person, Role};
use undersign_core::policy::{ChangeKind, DraftInput, NewReference, Policy, PolicyVersion, Title};
use undersign_core::school::{NewSchool, Organisation, School, SchoolSlug};
use undersign_core::signing::{
    AuthMethod, RequestContext, SignForm, SignatureInput, SignatureMark,
};
use undersign_core::store::Store;
use undersign_core::time;

/// The AUP text used by the seed: three numbered statements.
pub const AUP_BODY: &str = "\
# ICT Acceptable Use Policy

- I will only use the school's email, Internet and network for professional purposes.
- I will not disclose any passwords provided to me by the school.
- I will not install any hardware or software without permission of the network manager.
";

/// What [`seed_school`] created. Every person is active; only `head` and `admin` hold
/// administrative roles. No one has a password: tests set one with `set_password`.
#[derive(Debug, Clone)]
pub struct Seed {
    pub organisation: Organisation,
    pub school: School,
    /// The school's Ed25519 key (its public half is `school.public_key`).
    pub key: SigningKey,
    /// Headteacher: publishes policies; audience staff.
    pub head: Person,
    /// School administrator: keeps the roster; audience staff.
    pub admin: Person,
    /// Staff, line-managed by the headteacher.
    pub staff: Person,
    /// Staff.
    pub teacher: Person,
    /// Governor: audience governors only.
    pub governor: Person,
    pub policy: Policy,
    /// Version 1 of the AUP, major, published to staff and governors, with one reference.
    pub aup: PolicyVersion,
}

impl Seed {
    /// Acting as the headteacher.
    pub fn publisher(&self) -> PolicyPublisher {
        PolicyPublisher::for_operator(self.school.id, self.head.id)
    }

    /// Acting as the operator of the installation.
    pub fn people_admin(&self) -> PeopleAdmin {
        PeopleAdmin::for_operator(self.school.id)
    }

    /// `person` logged in to this school.
    pub fn actor(&self, person: &Person) -> Actor {
        Actor {
            school: self.school.id,
            person: person.id,
            roles: person.roles.clone(),
        }
    }
}

/// Creates an organisation and a school with the short name `slug` (which must be
/// unused), its people and its published AUP. Emails are `head@<slug>.sch.uk`,
/// `admin@…`, `staff@…`, `teacher@…`, `governor@…`.
pub async fn seed_school(store: &dyn Store, slug: &str) -> Seed {
    let key = key_for(slug);
    let organisation = store
        .create_organisation(&format!("{slug} trust"))
        .await
        .expect("create organisation");
    let school = store
        .create_school(
            organisation.id,
            NewSchool {
                name: format!("School {slug}"),
                slug: SchoolSlug::parse(slug).expect("slug"),
                timezone: undersign_core::time::TimeZone::parse("Europe/London").expect("zone"),
                public_key: hex_encode(key.verifying_key().as_bytes()),
            },
        )
        .await
        .expect("create school");
    let admin_cap = PeopleAdmin::for_operator(school.id);
    let add = |name: &'static str, local: &'static str, roles: Vec<Role>, manager| {
        let domain = format!("{slug}.sch.uk");
        let admin_cap = admin_cap.clone();
        async move {
            store
                .add_person(
                    &admin_cap,
                    NewPerson {
                        full_name: FullName::parse(name).expect("name"),
                        email: Email::parse(&format!("{local}@{domain}")).expect("email"),
                        roles: roles.into_iter().collect(),
                        line_manager: manager,
                        password_hash: None,
                    },
                )
                .await
                .expect("add person")
        }
    };
    let head = add("Helen Head", "head", vec![Role::Headteacher], None).await;
    let admin = add("Adam Admin", "admin", vec![Role::SchoolAdministrator], None).await;
    let staff = add("Sam Staff", "staff", vec![Role::Staff], Some(head.id)).await;
    let teacher = add("Tina Teacher", "teacher", vec![Role::Staff], None).await;
    let governor = add("Gary Governor", "governor", vec![Role::Governor], None).await;

    let publisher = PolicyPublisher::for_operator(school.id, head.id);
    let policy = store
        .create_policy(
            &publisher,
            &Title::parse("title", "ICT Acceptable Use Policy").expect("title"),
        )
        .await
        .expect("create policy");
    let v1 = store
        .create_draft(
            &publisher,
            policy.id,
            draft(
                AUP_BODY,
                ChangeKind::Major,
                &[Audience::Staff, Audience::Governors],
            ),
        )
        .await
        .expect("create draft");
    store
        .add_reference(
            &publisher,
            v1.id,
            NewReference::link(
                "Council Social Media Policy",
                "https://www.example.gov.uk/social-media-policy",
            )
            .expect("reference"),
        )
        .await
        .expect("add reference");
    let aup = store
        .publish(&publisher, v1.id, time::now())
        .await
        .expect("publish");
    Seed {
        organisation,
        school,
        key,
        head,
        admin,
        staff,
        teacher,
        governor,
        policy,
        aup,
    }
}

/// A checked draft.
pub fn draft(body: &str, kind: ChangeKind, audiences: &[Audience]) -> DraftInput {
    DraftInput::parse(
        body,
        "",
        kind,
        "What changed.",
        audiences.iter().copied().collect::<BTreeSet<_>>(),
    )
    .expect("draft")
}

/// A request from a browser, authenticated by password.
pub fn context() -> RequestContext {
    RequestContext::new(
        "192.0.2.10".to_string(),
        "Mozilla/5.0 (contract test)",
        AuthMethod::Password,
    )
}

/// A tiny but well-formed PNG header, accepted as a drawn signature.
pub fn png_mark() -> SignatureMark {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    png.extend(300u32.to_be_bytes());
    png.extend(100u32.to_be_bytes());
    png.extend([8, 6, 0, 0, 0]);
    SignatureMark::drawn(png).expect("png mark")
}

/// A valid signature of `version` by `person`: declaration ticked, name typed as on their
/// record, a typed signature, every referenced document acknowledged.
pub fn signature_input(person: &Person, version: &PolicyVersion) -> SignatureInput {
    let acknowledged = version.references.iter().map(|r| r.id).collect();
    SignatureInput::check(
        SignForm {
            declaration_ticked: true,
            typed_name: person.full_name.as_str(),
            signature_kind: "typed",
            typed_signature: person.full_name.as_str(),
            drawn_signature: "",
            acknowledged: &acknowledged,
        },
        &person.full_name,
        person.id,
        version,
        context(),
    )
    .expect("signature input")
}

/// A fixed key per school slug, so keys are stable between runs.
fn key_for(slug: &str) -> SigningKey {
    let mut seed = [0x5a_u8; 32];
    for (i, b) in slug.bytes().enumerate() {
        seed[i % 32] ^= b.rotate_left(i as u32 % 8);
    }
    SigningKey::from_bytes(&seed)
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Asserts that the school's chain verifies and that every evidence row agrees with the
/// entry that recorded it, as `undersign verify` checks them.
pub async fn assert_evidence_agrees(store: &dyn Store, school: undersign_core::SchoolId) {
    let snapshot = match store.evidence_snapshot(school).await {
        Ok(s) => s,
        Err(e) => panic!("cannot read the evidence: {e}"),
    };
    if let Err(e) = undersign_core::ledger::verify_chain(school, &snapshot.entries) {
        panic!("the chain does not verify: {e}");
    }
    let findings = undersign_core::evidence::cross_check(&snapshot.entries, &snapshot.rows);
    assert!(
        findings.is_empty(),
        "the rows disagree with the ledger:\n{}",
        findings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}
