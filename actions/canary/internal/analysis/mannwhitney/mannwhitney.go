// Package mannwhitney is the Mann-Whitney U (Wilcoxon rank-sum) test: does
// one sample tend to hold larger values than another? It makes no
// assumption about the distributions, which suits latencies and error
// rates, whose distributions are rarely normal.
package mannwhitney

import (
	"errors"
	"math"
	"sort"
)

// Alternative is the hypothesis tested against "both samples come from the
// same distribution".
type Alternative int

// Alternatives.
const (
	Greater  Alternative = iota // x tends to be larger than y
	Less                        // x tends to be smaller than y
	TwoSided                    // x and y differ either way
)

// Result of one test.
type Result struct {
	U                float64 // pairs (x_i, y_j) with x_i > y_j, ties counting one half
	P                float64 // p-value under the alternative
	Z                float64 // normal-approximation score of U (0 when exact)
	Exact            bool    // P comes from the exact distribution of U
	N1, N2           int
	MedianX, MedianY float64
}

// exactMax bounds the samples whose exact distribution is computed; larger
// samples are well served by the normal approximation.
const exactMax = 20

// ErrEmpty is returned when either sample is empty.
var ErrEmpty = errors.New("mann-whitney: both samples need at least one value")

// Test compares x with y. Without ties and with both samples of at most 20
// values the p-value is exact; otherwise it uses the normal approximation
// with tie correction and continuity correction.
func Test(x, y []float64, alt Alternative) (Result, error) {
	n1, n2 := len(x), len(y)
	if n1 == 0 || n2 == 0 {
		return Result{}, ErrEmpty
	}
	for _, v := range append(append([]float64(nil), x...), y...) {
		if math.IsNaN(v) {
			return Result{}, errors.New("mann-whitney: samples must not hold NaN")
		}
	}
	r := Result{N1: n1, N2: n2, MedianX: Median(x), MedianY: Median(y)}

	type obs struct {
		v   float64
		inX bool
	}
	all := make([]obs, 0, n1+n2)
	for _, v := range x {
		all = append(all, obs{v, true})
	}
	for _, v := range y {
		all = append(all, obs{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })

	// Ranks from 1; a run of equal values shares the average of its ranks.
	var rankX, tieSum float64
	ties := false
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		t := float64(j - i)
		avg := float64(i+1+j) / 2
		for k := i; k < j; k++ {
			if all[k].inX {
				rankX += avg
			}
		}
		if t > 1 {
			ties = true
			tieSum += t*t*t - t
		}
		i = j
	}
	m, n := float64(n1), float64(n2)
	r.U = rankX - m*(m+1)/2

	if !ties && n1 <= exactMax && n2 <= exactMax {
		r.Exact = true
		r.P = exactP(n1, n2, r.U, alt)
		return r, nil
	}

	N := m + n
	mean := m * n / 2
	variance := m * n / 12 * ((N + 1) - tieSum/(N*(N-1)))
	if variance <= 0 {
		// Every value is the same: nothing tells the samples apart.
		r.P = 1
		return r, nil
	}
	sd := math.Sqrt(variance)
	r.Z = (r.U - mean) / sd
	greater := upperTail((r.U - mean - 0.5) / sd)
	less := 1 - upperTail((r.U-mean+0.5)/sd)
	switch alt {
	case Greater:
		r.P = greater
	case Less:
		r.P = less
	default:
		r.P = math.Min(1, 2*math.Min(greater, less))
	}
	return r, nil
}

// upperTail is P(Z >= z) for a standard normal Z.
func upperTail(z float64) float64 { return 0.5 * math.Erfc(z/math.Sqrt2) }

// exactP sums the exact null distribution of U: every ordering of the
// m+n values is equally likely, and counts[k] is how many give U = k.
func exactP(m, n int, u float64, alt Alternative) float64 {
	counts := distribution(m, n)
	total := 0.0
	for _, c := range counts {
		total += c
	}
	k := int(math.Round(u))
	var le, ge float64
	for i, c := range counts {
		if i <= k {
			le += c
		}
		if i >= k {
			ge += c
		}
	}
	switch alt {
	case Greater:
		return ge / total
	case Less:
		return le / total
	}
	return math.Min(1, 2*math.Min(ge, le)/total)
}

// distribution returns, for samples of m and n values, the number of
// orderings giving each U from 0 to m*n. It follows the recurrence
// f(m,n,k) = f(m-1,n,k-n) + f(m,n-1,k): the largest value belongs to x
// (beating all n of y) or to y (beating nothing).
func distribution(m, n int) []float64 {
	// f[i][j] is the distribution for sizes i and j.
	f := make([][][]float64, m+1)
	for i := range f {
		f[i] = make([][]float64, n+1)
		for j := range f[i] {
			d := make([]float64, i*j+1)
			switch {
			case i == 0 || j == 0:
				d[0] = 1
			default:
				for k, c := range f[i][j-1] {
					d[k] += c
				}
				for k, c := range f[i-1][j] {
					d[k+j] += c
				}
			}
			f[i][j] = d
		}
	}
	return f[m][n]
}

// Median of a sample (the mean of the two middle values for an even count).
func Median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid]
	}
	return (s[mid-1] + s[mid]) / 2
}
