//! The typst world documents are compiled in: one template, one virtual `/data.json`, the
//! files the caller hands over (a drawn signature), the fonts built into the binary, and
//! nothing else — no file system, no packages, no clock.

use std::sync::OnceLock;

use chrono::{DateTime, Datelike, Timelike, Utc};
use typst::diag::{FileError, FileResult, PackageError, Severity, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Smart};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, Timestamp};

use crate::PdfError;

/// The path templates read their data from.
const DATA_PATH: &str = "/data.json";

/// The fonts of `typst-assets`, parsed once per process: Libertinus Serif for text, New
/// Computer Modern (and its maths face), DejaVu Sans Mono for codes and hashes.
struct Fonts {
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
}

fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| {
        let fonts: Vec<Font> = typst_assets::fonts()
            .flat_map(|data| Font::iter(Bytes::new(data)))
            .collect();
        Fonts {
            book: LazyHash::new(FontBook::from_fonts(&fonts)),
            fonts,
        }
    })
}

fn library() -> &'static LazyHash<Library> {
    static LIBRARY: OnceLock<LazyHash<Library>> = OnceLock::new();
    LIBRARY.get_or_init(|| LazyHash::new(Library::builder().build()))
}

/// One compilation: the template as the main file, the data as `/data.json`, and any
/// other files by their virtual paths.
struct DocumentWorld {
    main: Source,
    data_id: FileId,
    data: Bytes,
    files: Vec<(FileId, Bytes)>,
}

fn project_file(path: &str) -> Result<FileId, PdfError> {
    let vpath = VirtualPath::new(path)
        .map_err(|e| PdfError::Template(format!("bad virtual path {path}: {e}")))?;
    Ok(RootedPath::new(VirtualRoot::Project, vpath).intern())
}

impl DocumentWorld {
    fn refuse(&self, id: FileId) -> FileError {
        match id.root() {
            VirtualRoot::Package(spec) => FileError::Package(PackageError::Other(Some(
                format!("package {spec} is not available: documents are made offline").into(),
            ))),
            VirtualRoot::Project => FileError::AccessDenied,
        }
    }
}

impl World for DocumentWorld {
    fn library(&self) -> &LazyHash<Library> {
        library()
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &fonts().book
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(self.refuse(id))
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.data_id {
            Ok(self.data.clone())
        } else if id == self.main.id() {
            Ok(Bytes::from_string(self.main.text().to_string()))
        } else if let Some((_, bytes)) = self.files.iter().find(|(f, _)| *f == id) {
            Ok(bytes.clone())
        } else {
            Err(self.refuse(id))
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        fonts().fonts.get(index).cloned()
    }

    /// No clock: a document shows only the dates it is given.
    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        None
    }
}

/// Compiles `template` (named `name` in messages) with `data` as `/data.json` and each
/// of `files` at its path, and exports a PDF whose creation date is `dated`.
pub(crate) fn render(
    name: &str,
    template: &str,
    data: &impl serde::Serialize,
    dated: DateTime<Utc>,
    files: &[(&str, &[u8])],
) -> Result<Vec<u8>, PdfError> {
    let json = serde_json::to_string(data).map_err(|e| PdfError::Data(e.to_string()))?;
    let world = DocumentWorld {
        main: Source::new(project_file(&format!("/{name}.typ"))?, template.to_string()),
        data_id: project_file(DATA_PATH)?,
        data: Bytes::from_string(json),
        files: files
            .iter()
            .map(|(path, bytes)| Ok((project_file(path)?, Bytes::new(bytes.to_vec()))))
            .collect::<Result<_, PdfError>>()?,
    };
    let compiled = typst::compile::<PagedDocument>(&world);
    // Keep the compiler's memo cache from growing without bound in a long-running server.
    typst::comemo::evict(10);
    let document = compiled
        .output
        .map_err(|errors| PdfError::Template(describe(name, &world, &errors)))?;
    let options = PdfOptions {
        creator: Smart::Custom(Some("Undersign".into())),
        timestamp: timestamp(dated),
        ..PdfOptions::default()
    };
    typst_pdf::pdf(&document, &options)
        .map_err(|errors| PdfError::Template(describe(name, &world, &errors)))
}

fn timestamp(at: DateTime<Utc>) -> Option<Timestamp> {
    let byte = |n: u32| u8::try_from(n).ok();
    Datetime::from_ymd_hms(
        at.year(),
        byte(at.month())?,
        byte(at.day())?,
        byte(at.hour())?,
        byte(at.minute())?,
        byte(at.second())?,
    )
    .map(Timestamp::new_utc)
}

/// The errors of a failed compilation, each with its line in the template.
fn describe(name: &str, world: &DocumentWorld, errors: &[SourceDiagnostic]) -> String {
    errors
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            let line = (d.span.id() == Some(world.main.id()))
                .then(|| typst::WorldExt::range(world, d.span))
                .flatten()
                .and_then(|r| world.main.lines().byte_to_line(r.start))
                .map(|l| format!("{name}.typ line {}: ", l + 1))
                .unwrap_or_default();
            format!("{line}{}", d.message)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn try_render(template: &str) -> Result<Vec<u8>, PdfError> {
        render(
            "probe",
            template,
            &serde_json::json!({"x": 1}),
            Utc::now(),
            &[],
        )
    }

    #[test]
    fn the_template_reads_its_data() {
        let pdf = try_render("#let d = json(\"/data.json\")\n#d.x").unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }

    #[test]
    fn packages_files_and_the_clock_are_out_of_reach() {
        let err = try_render("#import \"@preview/cetz:0.3.0\": *\nx").unwrap_err();
        assert!(err.to_string().contains("not available"), "{err}");
        for probe in [
            "#read(\"/etc/passwd\")",
            "#read(\"../../Cargo.toml\")",
            "#image(\"/x.png\")",
        ] {
            let err = try_render(probe).unwrap_err();
            assert!(
                err.to_string().contains("probe.typ line 1"),
                "{probe}: {err}"
            );
        }
        let err = try_render("#datetime.today()").unwrap_err();
        assert!(err.to_string().contains("probe.typ line 1"), "{err}");
    }

    #[test]
    fn a_template_error_names_its_line() {
        let err = try_render("ok\n\n#panic(\"stop\")").unwrap_err();
        assert!(err.to_string().contains("probe.typ line 3"), "{err}");
        assert!(err.to_string().contains("stop"), "{err}");
    }
}
