module nrtq.example/reapdemo

go 1.19
