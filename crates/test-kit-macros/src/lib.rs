//! `#[db_test]`: one async test body run as two tests, on SQLite and on PostgreSQL, so a
//! storage test is named once, where it is defined. Used through `undersign-test-kit`.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::{ItemFn, LitInt, parse_macro_input};

/// Turns `async fn name(db: T)` into that function plus the tests `name::sqlite` and
/// `name::postgres`, each of which calls it with a fresh `T` (an
/// `undersign_test_kit::Fixture`) of its backend. The tests run on a multi-threaded
/// runtime of two workers; `#[db_test(worker_threads = 4)]` gives them more.
#[proc_macro_attribute]
pub fn db_test(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut worker_threads: Option<LitInt> = None;
    let options = syn::meta::parser(|meta| {
        if meta.path.is_ident("worker_threads") {
            worker_threads = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            Err(meta.error("#[db_test] takes only `worker_threads = N`"))
        }
    });
    parse_macro_input!(args with options);
    let body = parse_macro_input!(item as ItemFn);
    if body.sig.asyncness.is_none() {
        return syn::Error::new_spanned(body.sig.fn_token, "a #[db_test] must be an async fn")
            .to_compile_error()
            .into();
    }
    let name = &body.sig.ident;
    let threads = worker_threads.map_or_else(|| quote!(2), |n| quote!(#n));
    let test = |backend: Tokens, variant: Tokens| {
        quote! {
            #[::undersign_test_kit::__private::tokio::test(
                crate = "::undersign_test_kit::__private::tokio",
                flavor = "multi_thread",
                worker_threads = #threads
            )]
            async fn #backend() {
                ::undersign_test_kit::run(::undersign_test_kit::Backend::#variant, super::#name)
                    .await;
            }
        }
    };
    let sqlite = test(quote!(sqlite), quote!(Sqlite));
    let postgres = test(quote!(postgres), quote!(Postgres));
    quote! {
        #body

        mod #name {
            #sqlite
            #postgres
        }
    }
    .into()
}
