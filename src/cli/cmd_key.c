/* cmd_key.c: placeholder until the verb lands (replaced by its owner). */
#include "cli/cli.h"

int vt_cli_key(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	vt_cli_error("'key' is not built yet");
	return VT_EXIT_USAGE;
}
