module nrtq.dev/go/nrtq

go 1.19
