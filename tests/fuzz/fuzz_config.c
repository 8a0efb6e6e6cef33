/* Fuzz target: the YAML configuration loader over any document (kg_config_load_string, the same
 * code as kg_config_load after the file is read): a load gives either a config or an error text,
 * never both, and frees cleanly either way. */
#include "fuzz.h"
#include "kycgate/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kg_config *cfg = NULL;
	char *errors = NULL;
	enum kg_err e;

	if (size > KG_MAX_CONFIG_FILE_BYTES)
		return 0;
	e = kg_config_load_string("fuzz.yaml", (const char *)data, size, &cfg, &errors);
	if (e == KG_OK) {
		FUZZ_ASSERT(cfg != NULL && errors == NULL);
		(void)kg_config_base_url(cfg);
	} else {
		FUZZ_ASSERT(cfg == NULL);
		FUZZ_ASSERT(errors != NULL || e == KG_ERR_NOMEM);
	}
	kg_config_free(cfg);
	free(errors);
	return 0;
}
