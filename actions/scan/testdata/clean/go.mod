module example.com/cleanapp

go 1.22
