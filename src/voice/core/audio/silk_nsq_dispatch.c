/* The delayed-decision noise-shaping quantiser for CPUs with AVX2, as parlor builds libopus.
 *
 * libopus's run-time dispatch gives an AVX2 CPU silk_NSQ_del_dec_avx2, which runs the AVX2
 * code only for three or four delayed-decision states (complexity 6 and up) and otherwise the
 * scalar C version, because its AVX2 code was slower with one or two states on some AMD Zen
 * CPUs. The SSE4.1 version, which every AVX2 CPU also runs, handles any number of states and
 * gives the same bits. parlor encodes the agent's voice at complexity 5 (two states), so on
 * AVX2 CPUs it would run the scalar quantiser, SILK's costliest function. build.rs compiles
 * libopus's silk/x86/x86_silk_map.c with silk_NSQ_del_dec_avx2 renamed to the function below,
 * which keeps the AVX2 code for three or four states and takes the SSE4.1 code for one or two.
 * The vendored libopus sources are not changed. */
#include "main.h"

#if defined(OPUS_X86_MAY_HAVE_AVX2) && defined(OPUS_X86_MAY_HAVE_SSE4_1) && defined(OPUS_HAVE_RTCD)
void parlor_silk_NSQ_del_dec_avx2(
    const silk_encoder_state *psEncC,
    silk_nsq_state *NSQ,
    SideInfoIndices *psIndices,
    const opus_int16 x16[],
    opus_int8 pulses[],
    const opus_int16 *PredCoef_Q12,
    const opus_int16 LTPCoef_Q14[LTP_ORDER * MAX_NB_SUBFR],
    const opus_int16 AR_Q13[MAX_NB_SUBFR * MAX_SHAPE_LPC_ORDER],
    const opus_int HarmShapeGain_Q14[MAX_NB_SUBFR],
    const opus_int Tilt_Q14[MAX_NB_SUBFR],
    const opus_int32 LF_shp_Q14[MAX_NB_SUBFR],
    const opus_int32 Gains_Q16[MAX_NB_SUBFR],
    const opus_int pitchL[MAX_NB_SUBFR],
    const opus_int Lambda_Q10,
    const opus_int LTP_scale_Q14)
{
    if (psEncC->nStatesDelayedDecision >= 3) {
        silk_NSQ_del_dec_avx2(psEncC, NSQ, psIndices, x16, pulses, PredCoef_Q12, LTPCoef_Q14,
                              AR_Q13, HarmShapeGain_Q14, Tilt_Q14, LF_shp_Q14, Gains_Q16,
                              pitchL, Lambda_Q10, LTP_scale_Q14);
    } else {
        silk_NSQ_del_dec_sse4_1(psEncC, NSQ, psIndices, x16, pulses, PredCoef_Q12, LTPCoef_Q14,
                                AR_Q13, HarmShapeGain_Q14, Tilt_Q14, LF_shp_Q14, Gains_Q16,
                                pitchL, Lambda_Q10, LTP_scale_Q14);
    }
}
#endif
