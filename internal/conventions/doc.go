// Package conventions holds no code: its tests check, over the whole
// module's source, rules of the house that no compiler checks (see
// /work/shared/STYLE.md and docs/architecture.md).
package conventions
