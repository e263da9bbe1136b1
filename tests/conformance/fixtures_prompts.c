/* placeholder: being written */
typedef int placeholder_fixtures_prompts;
