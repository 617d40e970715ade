module nrtq.example/reapdemo

go 1.19

require nrtq.dev/go/nrtq v0.0.0

// The package is used from this checkout: no download, no go.sum entry.
replace nrtq.dev/go/nrtq => ../go
