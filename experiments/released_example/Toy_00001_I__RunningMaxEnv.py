import gymnasium
import ast
import json


class RunningMaxEnv(gymnasium.Env):
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.GET_ITEM = 1
        self.COMPARE_MAX = 2
        self.DONE = 3
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "GetItem": self.GET_ITEM,
            "CompareMax": self.COMPARE_MAX,
            "Done": self.DONE,
        }
        if env_str is not None:
            options = ast.literal_eval(env_str.split("@")[1])
            self.reset(options)
        else:
            self.reset()

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    @staticmethod
    def from_env_str(env_str: str):
        prefix = "RunningMaxEnv@"
        if not env_str.startswith(prefix):
            return None
        return RunningMaxEnv(env_str=env_str)

    def reset(self, options={}):
        self.values = options.get("values", [])
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        r"""
        The largest value of the hidden list.
        """
        return max(self.values) if self.values else 0

    def step(self, action: str):
        r"""
        Execute an action and return the observation.

        Args:
            action (str): JSON of the action name and parameters.

        Returns:
            tuple[bool, str]: Success flag and observation.
        """
        self.step_count += 1
        try:
            call_dict = json.loads(action)
            assert "name" in call_dict, "function call doesn't have `name`"
            assert "parameters" in call_dict, "function call doesn't have `parameters`"
            action_name = call_dict["name"]
            params = call_dict["parameters"]
            if action_name not in self.func_mapping:
                raise ValueError(f"Invalid action: {action_name}")
            action_code = self.func_mapping[action_name]
            if action_code == self.OBSERVE:
                msg = self.Observe()
            elif action_code == self.GET_ITEM:
                if "index" in params:
                    msg = self.GetItem(params["index"])
                else:
                    msg = "Error: 'index' parameter is missing for GET_ITEM action."
            elif action_code == self.COMPARE_MAX:
                if "a" in params and "b" in params:
                    msg = self.CompareMax(params["a"], params["b"])
                else:
                    msg = "Error: 'a' or 'b' parameter is missing for COMPARE_MAX action."
            elif action_code == self.DONE:
                if "answer" in params:
                    msg = self.Done(params["answer"])
                else:
                    msg = "Error: 'answer' parameter is missing for DONE action."
        except Exception as e:
            msg = f"Error: {str(e)}"
        return True, msg

    def Observe(self):
        r"""
    
        Tell how many values the hidden list holds.
    
        Args:
            None
    
        Returns:
            str: The length of the list.
    
        Example Output:
            "5"
        """
        return str(len(self.values))

    def GetItem(self, index: int):
        r"""
    
        Read one value of the hidden list.
    
        Args:
            index (int): Position to read, from 0.
    
        Returns:
            str: The value at that position.
    
        Example Output:
            "7"
        """
        return str(self.values[index])

    def CompareMax(self, a: int, b: int):
        r"""
    
        Return the larger of two numbers.
    
        Args:
            a (int): First number.
            b (int): Second number.
    
        Returns:
            str: The larger number.
    
        Example Output:
            "9"
        """
        return str(max(a, b))

    def Done(self, answer):
        r"""
    
        Submit the final answer and check it.
    
        Args:
            answer (int): The largest value of the list.
    
        Returns:
            str: Result information, including correctness and reward.
    
        Example Output:
            "Your answer: 9, Reference answer: 9, Result: Correct, reward=1"
        """
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, Reference answer: {ref_answer}, Result: {'Correct' if correct else 'Incorrect'}"
        return msg + f", reward={self._reward}"

    def solve(self):
        r"""
        Call the tools to find the maximum and submit it.

        Returns:
            str: The result of the final answer check.
        """
        n = int(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        best = int(self.step(json.dumps({"name": "GetItem", "parameters": {"index": 0}}))[1])
        for i in range(1, n):
            value = int(self.step(json.dumps({"name": "GetItem", "parameters": {"index": i}}))[1])
            best = int(self.step(json.dumps({"name": "CompareMax", "parameters": {"a": best, "b": value}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": best}}))[1]


if __name__ == "__main__":
    env = RunningMaxEnv.from_env_str('RunningMaxEnv@{"values": [3, 9, 2]}')
    print(env.solve())
    print("step count:", env.step_count)
