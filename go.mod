module github.com/racnn/racnn

go 1.26
