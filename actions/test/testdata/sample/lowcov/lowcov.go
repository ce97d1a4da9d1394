package lowcov

// One is tested.
func One() int { return 1 }

// Two is not.
func Two(x int) int {
	if x > 0 {
		return 2
	}
	return -2
}

// Three is not.
func Three(x int) int {
	switch x {
	case 1:
		return 3
	case 2:
		return 6
	}
	return 0
}
