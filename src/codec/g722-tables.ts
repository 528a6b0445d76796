// Constants of ITU-T G.722 (09/2012) §3 and §4, 64 kbit/s mode (mode 1). Values are the
// Recommendation's tables; names follow its block names (QUANTL, INVQAL, LOGSCL, SCALEL, ...).

/** Transmit and receive QMF coefficients h0..h23 (Table 4/G.722; symmetric, scaled by 2^13). */
export const QMF_COEFFS = Int32Array.of(
  3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876,
  3876, 951, -805, -210, 362, 32, -156, 12, 53, -11, -11, 3,
);

/** QUANTL decision levels Q6(1..29) of the 60-level lower sub-band quantizer (Table 6/G.722), scaled by DETL >> 12. */
export const Q6 = Int32Array.of(
  0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714,
  786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919,
);

/** QUANTL output code for a negative difference, by interval index MIL 1..30 (Table 6/G.722). */
export const ILN = Int32Array.of(
  0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19,
  18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4,
);

/** QUANTL output code for a non-negative difference, by interval index MIL 1..30 (Table 6/G.722). */
export const ILP = Int32Array.of(
  0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47,
  46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32,
);

/** INVQBL: 6-bit lower sub-band inverse quantizer output QQ6 by code IL (Table 7/G.722, scaled). */
export const QM6 = Int32Array.of(
  -136, -136, -136, -136, -24808, -21904, -19008, -16704,
  -14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
  -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576,
  -3168, -2776, -2400, -2032, -1688, -1360, -1040, -728,
  24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192,
  10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
  4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032,
  1688, 1360, 1040, 728, 432, 136, -432, -136,
);

/** INVQAL: 4-bit lower sub-band inverse quantizer output QQ4 by code IL >> 2 (Table 7/G.722, scaled). */
export const QM4 = Int32Array.of(
  0, -20456, -12896, -8968, -6288, -4240, -2584, -1200,
  20456, 12896, 8968, 6288, 4240, 2584, 1200, 0,
);

/** LOGSCL: magnitude index of a 4-bit code (RIL -> IL4). */
export const RL42 = Int32Array.of(0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0);

/** LOGSCL: log scale factor multipliers WL by IL4 (Table 8/G.722). */
export const WL = Int32Array.of(-60, -30, 58, 172, 334, 538, 1198, 3042);

/** SCALEL/SCALEH: 2048 * 2^(i/32), i = 0..31, the antilog table ILB. */
export const ILB = Int32Array.of(
  2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
  2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
);

/** QUANTH decision level Q2 (Table 9/G.722): 564 * DETH >> 12. */
export const Q2 = 564;

/** QUANTH output code IH for a negative difference by interval MIH 1..2. */
export const IHN = Int32Array.of(0, 1, 0);
/** QUANTH output code IH for a non-negative difference by interval MIH 1..2. */
export const IHP = Int32Array.of(0, 3, 2);

/** INVQAH: 2-bit higher sub-band inverse quantizer output QQ2 by code IH (Table 9/G.722, scaled). */
export const QM2 = Int32Array.of(-7408, -1616, 7408, 1616);

/** LOGSCH: magnitude index of a 2-bit code (IH -> IH2). */
export const RH2 = Int32Array.of(2, 1, 2, 1);

/** LOGSCH: log scale factor multipliers WH by IH2 (Table 10/G.722). */
export const WH = Int32Array.of(0, -214, 798);
