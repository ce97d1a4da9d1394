module example.com/badapp

go 1.22
