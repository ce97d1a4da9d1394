package mannwhitney

import (
	"math"
	"testing"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.10g, want %.10g", what, got, want)
	}
}

// Worked by hand: combined order 1x 2y 3x 4y 5x 6y 8y gives x the ranks
// 1, 3, 5, so R = 9 and U = 9 - 3*4/2 = 3. The exact null distribution of U
// for sizes 3 and 4 (partitions of k into at most 3 parts of at most 4)
// starts 1, 1, 2, 3 out of C(7,3) = 35 orderings: P(U <= 3) = 7/35 and
// P(U >= 3) = 1 - 4/35.
func TestExactTextbook(t *testing.T) {
	x := []float64{1, 3, 5}
	y := []float64{2, 4, 6, 8}
	less, err := Test(x, y, Less)
	if err != nil {
		t.Fatal(err)
	}
	if !less.Exact {
		t.Error("small samples without ties were not tested exactly")
	}
	near(t, "U", less.U, 3, 0)
	near(t, "P(U<=3)", less.P, 7.0/35, 1e-12)
	greater, _ := Test(x, y, Greater)
	near(t, "P(U>=3)", greater.P, 31.0/35, 1e-12)
	two, _ := Test(x, y, TwoSided)
	near(t, "two-sided", two.P, 14.0/35, 1e-12)
	near(t, "median x", less.MedianX, 3, 0)
	near(t, "median y", less.MedianY, 5, 0)

	// Complete separation: only one ordering out of C(8,4) = 70 puts all of x
	// above all of y.
	sep, _ := Test([]float64{10, 11, 12, 13}, []float64{1, 2, 3, 4}, Greater)
	near(t, "U separated", sep.U, 16, 0)
	near(t, "P separated", sep.P, 1.0/70, 1e-12)
}

// The distribution must be symmetric and sum to C(m+n, m).
func TestDistributionShape(t *testing.T) {
	d := distribution(5, 7)
	total := 0.0
	for i, c := range d {
		total += c
		if c != d[len(d)-1-i] {
			t.Fatalf("not symmetric at %d: %v", i, d)
		}
	}
	if total != 792 { // C(12,5)
		t.Errorf("orderings = %v, want 792", total)
	}
}

// Worked by hand: x = 1 2 2 3, y = 2 3 3 4. Ranks: 1 -> 1, the three 2s
// share 3, the three 3s share 6, 4 -> 8; x holds 1+3+3+6 = 13, U = 13-10 = 3.
// Tie term: 2 * (3^3 - 3) = 48; variance = 16/12 * (9 - 48/56).
func TestNormalWithTies(t *testing.T) {
	r, err := Test([]float64{1, 2, 2, 3}, []float64{2, 3, 3, 4}, Less)
	if err != nil {
		t.Fatal(err)
	}
	if r.Exact {
		t.Error("samples with ties were tested exactly")
	}
	near(t, "U", r.U, 3, 1e-12)
	sd := math.Sqrt(16.0 / 12 * (9 - 48.0/56))
	near(t, "Z", r.Z, (3-8)/sd, 1e-9)
	want := 0.5 * math.Erfc(-((3-8+0.5)/sd)/math.Sqrt2)
	near(t, "P", r.P, want, 1e-12)
	if r.P < 0.08 || r.P > 0.09 { // Φ(-1.3657) ≈ 0.0860
		t.Errorf("P = %v, want about 0.086", r.P)
	}
}

func TestIdenticalAndSymmetric(t *testing.T) {
	same := []float64{5, 5, 5, 5, 5}
	r, err := Test(same, same, TwoSided)
	if err != nil {
		t.Fatal(err)
	}
	if r.P != 1 {
		t.Errorf("identical constant samples: P = %v, want 1", r.P)
	}
	a := []float64{0.11, 0.35, 0.2, 0.18, 0.41, 0.27, 0.3, 0.22, 0.25, 0.19, 0.33, 0.29}
	b := []float64{0.12, 0.36, 0.21, 0.17, 0.42, 0.26, 0.31, 0.23, 0.24, 0.2, 0.34, 0.28}
	ab, _ := Test(a, b, TwoSided)
	if ab.P < 0.5 {
		t.Errorf("near-identical samples look different: P = %v", ab.P)
	}
	// Swapping the samples mirrors U and the one-sided p-values.
	big := []float64{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4, 3}
	small := []float64{2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5, 9, 0, 4, 5, 2, 3, 5, 3, 6}
	g, _ := Test(big, small, Greater)
	l, _ := Test(small, big, Less)
	near(t, "U mirrored", g.U+l.U, float64(len(big)*len(small)), 1e-9)
	near(t, "P mirrored", g.P, l.P, 1e-12)
	if g.Exact {
		t.Error("samples with ties were tested exactly")
	}
}

func TestClearShiftIsSignificant(t *testing.T) {
	var stable, canary []float64
	for i := 0; i < 30; i++ {
		stable = append(stable, 0.1+float64(i%7)*0.01)
		canary = append(canary, 0.3+float64(i%5)*0.01)
	}
	r, err := Test(canary, stable, Greater)
	if err != nil {
		t.Fatal(err)
	}
	if r.P > 1e-6 {
		t.Errorf("a clear shift: P = %v", r.P)
	}
	if r2, _ := Test(canary, stable, Less); r2.P < 0.99 {
		t.Errorf("the other direction: P = %v, want about 1", r2.P)
	}
}

func TestRejectsBadInput(t *testing.T) {
	if _, err := Test(nil, []float64{1}, Greater); err == nil {
		t.Error("an empty sample was accepted")
	}
	if _, err := Test([]float64{math.NaN()}, []float64{1}, Greater); err == nil {
		t.Error("NaN was accepted")
	}
}
