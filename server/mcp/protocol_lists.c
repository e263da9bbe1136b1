/* placeholder: being written */
typedef int placeholder_protocol_lists;
