module github.com/gantry-ci/gantry/examples/shop

go 1.24
