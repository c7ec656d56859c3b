module github.com/handoffd/handoff

go 1.26
