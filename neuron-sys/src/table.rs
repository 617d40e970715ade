//! Function-pointer tables: a struct with one field per C function, named like the
//! function and typed with its `_fn` type, filled from a symbol lookup. Missing required
//! names are collected, not returned one at a time, so a load error can list them all.

use std::ffi::{c_void, CString};

/// Looks names up in one loaded library and remembers every required name that was
/// missing.
pub(crate) struct Resolver<'a> {
    lookup: &'a dyn Fn(&std::ffi::CStr) -> *mut c_void,
    /// Required names that did not resolve, in lookup order.
    pub(crate) missing: Vec<&'static str>,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(lookup: &'a dyn Fn(&std::ffi::CStr) -> *mut c_void) -> Self {
        Self {
            lookup,
            missing: Vec::new(),
        }
    }

    /// The address of `name`, or NULL.
    pub(crate) fn address(&self, name: &str) -> *mut c_void {
        match CString::new(name) {
            Ok(c_name) => (self.lookup)(&c_name),
            Err(_) => std::ptr::null_mut(),
        }
    }

    /// `name` as a `T`, or `None` when the library does not define it.
    ///
    /// # Safety
    /// `T` must be the `unsafe extern "C" fn` type whose prototype is the C function `name`.
    pub(crate) unsafe fn optional<T: Copy>(&self, name: &str) -> Option<T> {
        const { assert!(std::mem::size_of::<T>() == std::mem::size_of::<*mut c_void>()) };
        let address = self.address(name);
        if address.is_null() {
            return None;
        }
        // SAFETY: T is a function-pointer type of pointer size (checked above) and the
        // caller guarantees it is the prototype of the non-NULL symbol `name`.
        Some(unsafe { std::mem::transmute_copy::<*mut c_void, T>(&address) })
    }

    /// Like [`Resolver::optional`], but a missing name is recorded in `missing`.
    ///
    /// # Safety
    /// As for [`Resolver::optional`].
    pub(crate) unsafe fn required<T: Copy>(&mut self, name: &'static str) -> Option<T> {
        // SAFETY: forwarded from the caller.
        let found = unsafe { self.optional::<T>(name) };
        if found.is_none() {
            self.missing.push(name);
        }
        found
    }
}

/// Declares a table struct and its `resolve` constructor. `required` fields make the
/// table fail (and are recorded as missing), `optional` ones become `Option`, `extra`
/// fields are not symbols and are passed to `resolve` by the caller.
macro_rules! fn_table {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            required { $($req:ident : $rty:ty),* $(,)? }
            optional { $($opt:ident : $oty:ty),* $(,)? }
            $(extra { $($(#[$emeta:meta])* $extra:ident : $ety:ty),* $(,)? })?
        }
    ) => {
        $(#[$meta])*
        ///
        /// Each field is the C function of the same name, typed with its `_fn` type.
        #[derive(Clone, Copy, Debug)]
        pub struct $name {
            $(#[doc = concat!("`", stringify!($req), "`")] pub $req: $rty,)*
            $(#[doc = concat!("`", stringify!($opt), "`, if the library exports it")] pub $opt: Option<$oty>,)*
            $($($(#[$emeta])* pub $extra: $ety,)*)?
        }

        impl $name {
            /// The names of the required functions, in field order.
            pub const SYMBOLS_REQUIRED: &'static [&'static str] = &[$(stringify!($req),)*];
            /// The names of the optional functions, in field order.
            pub const SYMBOLS_OPTIONAL: &'static [&'static str] = &[$(stringify!($opt),)*];

            /// Looks every function up; `None` when a required one is missing (all
            /// missing names are left in `resolver.missing`).
            #[allow(dead_code)] // not every table is built through every path
            pub(crate) fn resolve(
                resolver: &mut $crate::table::Resolver<'_>
                $($(, $extra: $ety)*)?
            ) -> Option<Self> {
                $(
                    // SAFETY: the field's type is the prototype of the C function it is named after.
                    let $req = unsafe { resolver.required::<$rty>(stringify!($req)) };
                )*
                $(
                    // SAFETY: as above.
                    let $opt = unsafe { resolver.optional::<$oty>(stringify!($opt)) };
                )*
                Some(Self {
                    $($req: $req?,)*
                    $($opt,)*
                    $($($extra,)*)?
                })
            }
        }
    };
}
pub(crate) use fn_table;
