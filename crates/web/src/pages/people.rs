//! The roster by hand, for the headteacher and the school administrator: add a person,
//! edit their name, email, roles, line manager and status, send a password reset link
//! (administrators never set a password). Leavers keep their evidence; they just stop
//! being asked and cannot log in.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use serde::Deserialize;
use undersign_core::PersonId;
use undersign_core::access::PeopleAdmin;
use undersign_core::person::{
    Email, FullName, NewPerson, Person, PersonStatus, PersonUpdate, Role, Roles,
};

use super::FieldError;
use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::pages::FieldErrors as _;
use crate::render::{Nav, page};
use crate::session::{Can, CurrentUser};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/people", get(list))
        .route("/people/new", get(new_page).post(create))
        .route("/people/{id}", get(edit_page).post(update))
        .route("/people/{id}/reset-link", post(send_reset))
}

struct Row {
    id: i64,
    name: String,
    email: String,
    roles: String,
    manager: String,
    left: bool,
}

#[derive(Template)]
#[template(path = "people.html")]
struct PeopleView {
    nav: Nav,
    rows: Vec<Row>,
}

async fn list(
    State(state): State<AppState>,
    Can { user, .. }: Can<PeopleAdmin>,
) -> AppResult<Response> {
    let people = state.store.people(user.school.id).await?;
    let name_of = |id: Option<PersonId>| {
        id.and_then(|id| people.iter().find(|p| p.id == id))
            .map(|p| p.full_name.to_string())
            .unwrap_or_default()
    };
    let rows = people
        .iter()
        .map(|p| Row {
            id: p.id.0,
            name: p.full_name.to_string(),
            email: p.email.to_string(),
            roles: p
                .roles
                .iter()
                .map(|r| r.label())
                .collect::<Vec<_>>()
                .join(", "),
            manager: name_of(p.line_manager),
            left: p.status == PersonStatus::Left,
        })
        .collect();
    Ok(page(&PeopleView {
        nav: Nav::for_user(&user),
        rows,
    })?
    .into_response())
}

/// A role checkbox on the form.
struct RoleOption {
    code: &'static str,
    label: &'static str,
    checked: bool,
}

#[derive(Template)]
#[template(path = "person_form.html")]
struct PersonFormView {
    nav: Nav,
    id: Option<i64>,
    full_name: String,
    email: String,
    roles: Vec<RoleOption>,
    managers: Vec<(i64, String, bool)>,
    left: bool,
    errors: Vec<FieldError>,
    notice: Option<String>,
}

#[derive(Deserialize, Default)]
struct PersonForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: Vec<String>,
    #[serde(default)]
    line_manager: String,
    #[serde(default)]
    status: String,
}

struct Parsed {
    full_name: FullName,
    email: Email,
    roles: Roles,
    line_manager: Option<PersonId>,
    status: PersonStatus,
}

impl PersonForm {
    fn parse(&self) -> Result<Parsed, Vec<FieldError>> {
        let mut errors = Vec::new();
        let full_name = FullName::parse(&self.full_name)
            .map_err(|e| errors.push(FieldError::new("full_name", e.to_string())))
            .ok();
        let email = Email::parse(&self.email)
            .map_err(|e| errors.push(FieldError::new("email", e.to_string())))
            .ok();
        let mut roles = Roles::new();
        for r in &self.role {
            match Role::parse(r) {
                Ok(role) => {
                    roles.insert(role);
                }
                Err(e) => errors.push(FieldError::new("role-staff", e.to_string())),
            }
        }
        if roles.is_empty() {
            errors.push(FieldError::new(
                "role-staff",
                "role: choose at least one role",
            ));
        }
        let line_manager = match self.line_manager.trim() {
            "" => None,
            id => match id.parse() {
                Ok(id) => Some(PersonId(id)),
                Err(_) => {
                    errors.push(FieldError::new(
                        "line_manager",
                        "line manager: choose someone from the list",
                    ));
                    None
                }
            },
        };
        let status = if self.status == "left" {
            PersonStatus::Left
        } else {
            PersonStatus::Active
        };
        match (full_name, email, errors.is_empty()) {
            (Some(full_name), Some(email), true) => Ok(Parsed {
                full_name,
                email,
                roles,
                line_manager,
                status,
            }),
            _ => Err(errors),
        }
    }
}

impl Parsed {
    /// The same check the store makes (`PeopleAdmin::check_grant`), made first so that a
    /// refused role or email is shown beside its field.
    fn granted_by(
        self,
        by: &PeopleAdmin,
        before: Option<&Person>,
    ) -> Result<Self, Vec<FieldError>> {
        match by.check_grant(
            before.map(|p| (&p.roles, &p.email)),
            &self.roles,
            &self.email,
        ) {
            Ok(()) => Ok(self),
            Err(m) if m.contains("email") => Err(vec![FieldError::new("email", m)]),
            Err(m) => Err(vec![FieldError::new("role-staff", m)]),
        }
    }
}

fn form_view(
    user: &CurrentUser,
    people: &[Person],
    id: Option<PersonId>,
    form: &PersonForm,
    errors: Vec<FieldError>,
    notice: Option<String>,
) -> PersonFormView {
    PersonFormView {
        nav: Nav::for_user(user),
        id: id.map(|i| i.0),
        full_name: form.full_name.clone(),
        email: form.email.clone(),
        roles: Role::ALL
            .into_iter()
            .filter(|r| *r != Role::TrustAdministrator)
            .map(|r| RoleOption {
                code: r.as_str(),
                label: r.label(),
                checked: form.role.iter().any(|x| x == r.as_str()),
            })
            .collect(),
        managers: people
            .iter()
            .filter(|p| Some(p.id) != id && p.status == PersonStatus::Active)
            .map(|p| {
                (
                    p.id.0,
                    p.full_name.to_string(),
                    form.line_manager == p.id.to_string(),
                )
            })
            .collect(),
        left: form.status == "left",
        errors,
        notice,
    }
}

async fn new_page(
    State(state): State<AppState>,
    Can { user, .. }: Can<PeopleAdmin>,
) -> AppResult<Response> {
    let people = state.store.people(user.school.id).await?;
    let form = PersonForm {
        role: vec!["staff".into()],
        ..PersonForm::default()
    };
    Ok(page(&form_view(&user, &people, None, &form, Vec::new(), None))?.into_response())
}

async fn create(
    State(state): State<AppState>,
    Can { user, cap: by }: Can<PeopleAdmin>,
    Form(form): Form<PersonForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let people = state.store.people(user.school.id).await?;
    let parsed = match form.parse().and_then(|p| p.granted_by(&by, None)) {
        Ok(p) => p,
        Err(errors) => {
            let view = form_view(&user, &people, None, &form, errors, None);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response());
        }
    };
    let added = state
        .store
        .add_person(
            &by,
            NewPerson {
                full_name: parsed.full_name,
                email: parsed.email,
                roles: parsed.roles,
                line_manager: parsed.line_manager,
                password_hash: None,
            },
        )
        .await;
    match added {
        Ok(person) => {
            // They choose their own password from a link sent to their own address.
            crate::pages::password_reset::send_reset_link(&state, &user, &person).await?;
            let people = state.store.people(user.school.id).await?;
            let view = form_view(
                &user,
                &people,
                Some(person.id),
                &form_of(&person),
                Vec::new(),
                Some(reset_sent(&person)),
            );
            Ok((StatusCode::CREATED, page(&view)?).into_response())
        }
        Err(
            undersign_core::store::StoreError::Conflict(m)
            | undersign_core::store::StoreError::Refused(m),
        ) => {
            let view = form_view(
                &user,
                &people,
                None,
                &form,
                vec![FieldError::new("email", m)],
                None,
            );
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

fn form_of(p: &Person) -> PersonForm {
    PersonForm {
        csrf_token: String::new(),
        full_name: p.full_name.to_string(),
        email: p.email.to_string(),
        role: p.roles.iter().map(|r| r.as_str().to_string()).collect(),
        line_manager: p.line_manager.map(|m| m.to_string()).unwrap_or_default(),
        status: p.status.as_str().into(),
    }
}

async fn edit_page(
    State(state): State<AppState>,
    Can { user, .. }: Can<PeopleAdmin>,
    Path(id): Path<PersonId>,
) -> AppResult<Response> {
    let person = state
        .store
        .person(user.school.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let people = state.store.people(user.school.id).await?;
    Ok(page(&form_view(
        &user,
        &people,
        Some(id),
        &form_of(&person),
        Vec::new(),
        None,
    ))?
    .into_response())
}

async fn update(
    State(state): State<AppState>,
    Can { user, cap: by }: Can<PeopleAdmin>,
    Path(id): Path<PersonId>,
    Form(form): Form<PersonForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let before = state
        .store
        .person(user.school.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let people = state.store.people(user.school.id).await?;
    let parsed = match form.parse().and_then(|p| p.granted_by(&by, Some(&before))) {
        Ok(p) => p,
        Err(errors) => {
            let view = form_view(&user, &people, Some(id), &form, errors, None);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response());
        }
    };
    let update = PersonUpdate {
        full_name: parsed.full_name,
        email: parsed.email,
        roles: parsed.roles,
        line_manager: parsed.line_manager,
        status: parsed.status,
    };
    match state.store.update_person(&by, id, update).await {
        Ok(person) => {
            if person.status == PersonStatus::Left {
                state.store.delete_sessions_of(user.school.id, id).await?;
            }
            Ok(Redirect::to("/people").into_response())
        }
        Err(
            undersign_core::store::StoreError::Conflict(m)
            | undersign_core::store::StoreError::Refused(m),
        ) => {
            let view = form_view(
                &user,
                &people,
                Some(id),
                &form,
                vec![FieldError::new("email", m)],
                None,
            );
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

fn reset_sent(person: &Person) -> String {
    format!(
        "A link to choose a password was sent to {} at {}. It works once, for {} hours; nobody else sees the password.",
        person.full_name,
        person.email,
        undersign_core::login_link::RESET_VALID_FOR.num_hours()
    )
}

/// Sends the person a password reset link to their own address.
async fn send_reset(
    State(state): State<AppState>,
    Can { user, .. }: Can<PeopleAdmin>,
    Path(id): Path<PersonId>,
    Form(form): Form<crate::csrf::CsrfOnly>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let person = state
        .store
        .person(user.school.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if person.status != PersonStatus::Active {
        return Err(AppError::Conflict(
            "This person has left the school and cannot sign in.".into(),
        ));
    }
    crate::pages::password_reset::send_reset_link(&state, &user, &person).await?;
    let people = state.store.people(user.school.id).await?;
    let view = form_view(
        &user,
        &people,
        Some(person.id),
        &form_of(&person),
        Vec::new(),
        Some(reset_sent(&person)),
    );
    Ok(page(&view)?.into_response())
}
